"""Chinese name pools for the demo city: places, roads and people.

Every pool is a plain tuple, so a name drawn with a seeded generator is the same on every
machine. Names are made up (a fictional city); none holds a tab, newline or backslash.
"""

from __future__ import annotations

import numpy as np

#: District (区) stems.
DISTRICT_STEMS: tuple[str, ...] = (
    "东城", "西城", "南湖", "北塘", "江滨", "新港", "高新", "临江", "云台", "钟山",
    "凤凰", "青山", "白鹭", "金川", "龙泉", "月湖",
)  # fmt: skip

#: Two-character place words for streets (街道), communities (社区) and roads.
PLACE_WORDS: tuple[str, ...] = (
    "幸福", "和平", "光明", "朝阳", "新华", "东风", "红旗", "建设", "友谊", "团结",
    "胜利", "解放", "长江", "黄河", "紫金", "文昌", "崇文", "尚德", "明德", "育才",
    "启明", "振华", "兴华", "和谐", "友爱", "安康", "康乐", "福寿", "祥和", "安居",
    "乐业", "兴旺", "昌盛", "仁和", "德馨", "梧桐", "银杏", "玉兰", "丁香", "海棠",
    "桂花", "紫荆", "芙蓉", "樱花", "翠竹", "青松", "杨柳", "枫林", "梅园", "桃源",
    "杏林", "荷塘", "莲花", "兰亭", "菊苑", "江滨", "湖滨", "河西", "河东", "山南",
    "山北", "清溪", "石桥", "白鹭", "凤凰", "龙泉", "金川", "银河", "玉泉", "云台",
    "翠屏", "碧水", "青山", "绿洲", "工农", "机电", "纺织", "铁路", "电厂", "钢城",
    "港湾", "航运", "东城", "西城", "南苑", "北苑", "中和", "天元", "万松", "千佛",
    "百花", "双塘", "三元", "四方", "五福", "六合", "七星", "八卦", "九华", "十里",
    "锦绣", "华庭", "春晖", "秋实", "夏荷", "冬青", "晨光", "曙光", "星辰", "彩虹",
    "金陵", "汉中", "龙蟠", "虎踞", "瑞金", "太平", "长乐", "永宁", "常青", "宝善",
    "聚福", "润泽", "怡景", "悦来", "迎春", "望江", "观澜", "听涛", "揽月", "映山",
    "桥北", "桥南", "站前", "市场", "学府", "医苑", "书香", "文化", "体育", "科技",
    "创新", "新城", "老街", "南门", "北门", "东关", "西关", "城南", "城北", "大桥",
    "沿河", "环湖", "滨江", "花园", "果园", "菜园", "茶园", "竹园", "松园", "柳园",
    "金城", "银城", "玉城", "锦城", "丰收", "富民", "惠民", "利民", "便民", "为民",
)  # fmt: skip

#: Community name endings before 社区 ("" keeps the bare word: 幸福社区).
COMMUNITY_ENDINGS: tuple[str, ...] = ("", "新村", "花园", "家园", "苑", "里")

#: Bases of primary roads (主干道).
PRIMARY_ROAD_STEMS: tuple[str, ...] = (
    "中山", "长江", "黄河", "人民", "解放", "建设", "和平", "胜利", "光明", "新华",
    "友谊", "复兴", "振兴", "团结", "文化", "青年", "红旗", "朝阳", "东风", "汉中",
    "龙蟠", "虎踞", "北京", "上海", "广州", "江东", "湖南", "珠江", "钟山", "紫金",
    "凤凰", "太平", "长白", "昆仑", "泰山", "华山", "衡山", "嵩山", "黄山", "庐山",
)  # fmt: skip

#: Ordinals used in road names (建设一路, 建设二路 ...); "" for none.
ROAD_ORDINALS: tuple[str, ...] = ("", "", "", "", "一", "二", "三", "四", "五", "六")

#: Common surnames (百家姓), most frequent first, with rough weights.
SURNAMES: tuple[str, ...] = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
    "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
    "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜",
    "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭",
    "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "方", "白", "邹", "孟", "熊",
)  # fmt: skip

#: Characters for given names (one or two of them).
GIVEN_CHARS: tuple[str, ...] = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "霞", "平", "刚", "英", "华", "玲", "桂", "兰", "秀", "红", "建",
    "国", "文", "辉", "鹏", "飞", "鑫", "波", "斌", "宇", "浩", "凯", "俊", "帆", "琳",
    "婷", "雪", "慧", "倩", "颖", "瑶", "欣", "怡", "佳", "晨", "阳", "宁", "海", "峰",
    "亮", "林", "梅", "云", "春", "志", "永", "德", "宏", "晓", "丹", "萍", "燕", "彬",
)  # fmt: skip


def surname_weights() -> np.ndarray:
    """Zipf-like weights for SURNAMES (王 and 李 far more common than 熊)."""
    w = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.8
    return w / w.sum()


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Chinese person names (surname + one or two given characters), as objects."""
    sur = np.asarray(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), size=n, p=surname_weights())]
    chars = np.asarray(GIVEN_CHARS, dtype=object)
    first = chars[rng.integers(0, len(chars), n)]
    second = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.7
    given = np.where(two, first + second, first)
    return sur + given


def masked_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` masked demo mobile numbers such as ``138****1234``."""
    prefix = rng.choice(np.array([130, 133, 135, 136, 138, 139, 150, 151, 158, 177, 186, 189]), n)
    tail = rng.integers(0, 10_000, n)
    return np.array([f"{p}****{t:04d}" for p, t in zip(prefix, tail, strict=True)], dtype=object)


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct community names ending in 社区 (幸福社区, 梧桐花园社区 ...)."""
    combos = [w + e for e in COMMUNITY_ENDINGS for w in PLACE_WORDS]
    combos = list(dict.fromkeys(combos))  # PLACE_WORDS may repeat a word
    if n > len(combos):
        raise ValueError(f"only {len(combos)} distinct community names, {n} asked")
    pick = rng.choice(len(combos), size=n, replace=False)
    return [combos[i] + "社区" for i in pick]


def street_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct sub-district names ending in 街道."""
    words = list(dict.fromkeys(PLACE_WORDS))
    if n > len(words):
        extra = [w + "新" for w in words]
        words += extra
    pick = rng.choice(len(words), size=n, replace=False)
    return [words[i] + "街道" for i in pick]


def district_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct district names ending in 区."""
    pick = rng.choice(len(DISTRICT_STEMS), size=n, replace=False)
    return [DISTRICT_STEMS[i] + "区" for i in pick]
