"""The case taxonomy (事件分类) the demo city uses: 8 categories, their subcategories.

Cases store stable slugs (``cases.category`` = a category slug, ``cases.subcategory`` = a
subcategory slug), the same slugs as the case services' taxonomy file
(``gridmap/cases/taxonomy.toml``). What only the demo needs (shares of cases, priority mix,
handling department, title wordings) lives here, as data.
"""

from __future__ import annotations

from typing import Any

#: slug → {zh, en, weight (share of cases), department, priority weights (1 urgent..4 low),
#: subcategories: slug → {zh, en, titles}}.
CASE_TAXONOMY: dict[str, dict[str, Any]] = {
    "disputes": {
        "zh": "矛盾纠纷",
        "en": "Disputes",
        "weight": 0.12,
        "department": "司法所",
        "priority": (0.03, 0.17, 0.6, 0.2),
        "subcategories": {
            "neighbour_dispute": {
                "zh": "邻里纠纷",
                "en": "Neighbour dispute",
                "titles": ("邻里因噪音发生纠纷", "楼上楼下漏水纠纷", "邻里占道纠纷"),
            },
            "family_dispute": {
                "zh": "婚姻家庭纠纷",
                "en": "Family dispute",
                "titles": ("家庭赡养纠纷", "婚姻家庭矛盾"),
            },
            "property_dispute": {
                "zh": "物业纠纷",
                "en": "Property management dispute",
                "titles": ("物业费收缴纠纷", "业主与物业矛盾"),
            },
            "labour_dispute": {
                "zh": "劳资纠纷",
                "en": "Labour / unpaid wages",
                "titles": ("务工人员讨要工资", "劳动合同纠纷"),
            },
        },
    },
    "public_security": {
        "zh": "治安隐患",
        "en": "Public security",
        "weight": 0.08,
        "department": "公安分局",
        "priority": (0.1, 0.3, 0.5, 0.1),
        "subcategories": {
            "suspicious_person": {
                "zh": "可疑人员",
                "en": "Suspicious person",
                "titles": ("小区内发现可疑人员", "夜间有人徘徊"),
            },
            "rental_housing": {
                "zh": "出租房屋隐患",
                "en": "Rental housing risk",
                "titles": ("出租屋人员登记不全", "群租房安全隐患"),
            },
            "fraud_gambling": {
                "zh": "涉赌涉诈线索",
                "en": "Gambling or fraud lead",
                "titles": ("疑似电信诈骗窝点", "棋牌室聚众赌博"),
            },
        },
    },
    "fire_safety": {
        "zh": "安全生产与消防",
        "en": "Production & fire safety",
        "weight": 0.11,
        "department": "应急管理局",
        "priority": (0.15, 0.35, 0.4, 0.1),
        "subcategories": {
            "ebike_charging": {
                "zh": "电动车违规充电",
                "en": "Unsafe e-bike charging",
                "titles": ("楼道内电动车充电", "飞线充电"),
            },
            "blocked_fire_exit": {
                "zh": "消防通道堵塞",
                "en": "Blocked fire exit",
                "titles": ("消防通道被占用", "安全出口上锁"),
            },
            "gas_hazard": {
                "zh": "燃气安全隐患",
                "en": "Gas hazard",
                "titles": ("餐饮店燃气软管老化", "闻到燃气异味"),
            },
            "workplace_hazard": {
                "zh": "生产经营安全隐患",
                "en": "Workplace safety hazard",
                "titles": ("工地未设围挡", "小作坊安全隐患"),
            },
        },
    },
    "sanitation": {
        "zh": "环境卫生",
        "en": "Environment & sanitation",
        "weight": 0.22,
        "department": "城管局",
        "priority": (0.01, 0.09, 0.6, 0.3),
        "subcategories": {
            "garbage": {
                "zh": "垃圾堆放",
                "en": "Garbage pile",
                "titles": ("垃圾桶满溢未清运", "路边乱堆垃圾", "装修垃圾乱倒"),
            },
            "littering": {
                "zh": "乱扔乱倒",
                "en": "Littering / dumping",
                "titles": ("楼道堆放杂物", "公共区域乱倒废品"),
            },
            "illegal_ads": {
                "zh": "小广告",
                "en": "Illegal posters",
                "titles": ("楼道张贴小广告", "墙面喷涂小广告"),
            },
            "noise": {
                "zh": "噪音扰民",
                "en": "Noise nuisance",
                "titles": ("夜间施工噪音扰民", "广场舞音响过大", "商铺外放音响"),
            },
            "pollution": {
                "zh": "污水与油烟",
                "en": "Sewage or cooking fumes",
                "titles": ("餐饮油烟扰民", "露天烧烤", "污水外溢"),
            },
        },
    },
    "municipal": {
        "zh": "市政设施",
        "en": "Municipal facilities",
        "weight": 0.17,
        "department": "住建局",
        "priority": (0.03, 0.17, 0.55, 0.25),
        "subcategories": {
            "street_light": {
                "zh": "路灯损坏",
                "en": "Street light out",
                "titles": ("路灯不亮", "路灯杆倾斜"),
            },
            "road_damage": {
                "zh": "道路破损",
                "en": "Damaged road surface",
                "titles": ("路面坑洼", "人行道地砖松动"),
            },
            "manhole_cover": {
                "zh": "井盖缺失",
                "en": "Missing manhole cover",
                "titles": ("井盖缺失", "井盖破损下沉"),
            },
            "water_supply": {
                "zh": "供水管网",
                "en": "Water supply fault",
                "titles": ("小区停水", "供水管道漏水"),
            },
        },
    },
    "livelihood": {
        "zh": "民生服务",
        "en": "Livelihood services",
        "weight": 0.14,
        "department": "民政局",
        "priority": (0.02, 0.13, 0.6, 0.25),
        "subcategories": {
            "elderly_care": {
                "zh": "养老助老",
                "en": "Elderly care",
                "titles": ("独居老人需要上门探访", "老人行动不便求助"),
            },
            "social_assistance": {
                "zh": "社会救助",
                "en": "Social assistance",
                "titles": ("低保申请咨询", "困难家庭救助"),
            },
            "medical_insurance": {
                "zh": "医疗社保",
                "en": "Medical and social insurance",
                "titles": ("医保报销咨询", "社保卡办理"),
            },
            "policy_inquiry": {
                "zh": "政策咨询",
                "en": "Policy inquiry",
                "titles": ("入学政策咨询", "居住证办理咨询"),
            },
        },
    },
    "traffic": {
        "zh": "交通出行",
        "en": "Traffic",
        "weight": 0.1,
        "department": "交通运输局",
        "priority": (0.03, 0.17, 0.55, 0.25),
        "subcategories": {
            "illegal_parking": {
                "zh": "违章停车",
                "en": "Illegal parking",
                "titles": ("机动车占用人行道", "车辆堵塞小区出入口"),
            },
            "traffic_signal": {
                "zh": "信号灯故障",
                "en": "Traffic signal fault",
                "titles": ("红绿灯不亮", "信号灯配时不合理"),
            },
            "bus_service": {
                "zh": "公交服务",
                "en": "Bus service",
                "titles": ("公交站台破损", "建议增开公交线路"),
            },
        },
    },
    "petitions": {
        "zh": "信访诉求",
        "en": "Petitions",
        "weight": 0.06,
        "department": "信访局",
        "priority": (0.02, 0.18, 0.5, 0.3),
        "subcategories": {
            "petition_complaint": {
                "zh": "投诉举报",
                "en": "Complaint",
                "titles": ("对办理结果不满意", "投诉物业服务"),
            },
            "petition_suggestion": {
                "zh": "意见建议",
                "en": "Suggestion",
                "titles": ("建议增设便民设施", "建议改造老旧小区"),
            },
            "petition_appeal": {
                "zh": "求决类诉求",
                "en": "Request for a decision",
                "titles": ("征收补偿诉求", "历史遗留问题诉求"),
            },
        },
    },
}

#: Hours allowed from report to due (时限) by priority 1 (urgent) .. 4 (low).
DUE_HOURS: dict[int, float] = {1: 2.0, 2: 24.0, 3: 72.0, 4: 168.0}

#: Case sources (the ``cases.source`` CHECK list) and their shares.
SOURCE_WEIGHTS: dict[str, float] = {
    "hotline_12345": 0.35,
    "grid_worker": 0.30,
    "resident_app": 0.18,
    "video_patrol": 0.08,
    "walk_in": 0.07,
    "open311": 0.01,
    "import": 0.01,
}


def category_label(slug: str, lang: str = "zh") -> str:
    """Label of a category slug."""
    return CASE_TAXONOMY[slug][lang]


def subcategory_label(slug: str, lang: str = "zh") -> str:
    """Label of a subcategory slug (unique across categories)."""
    for cat in CASE_TAXONOMY.values():
        if slug in cat["subcategories"]:
            return cat["subcategories"][slug][lang]
    raise KeyError(slug)
