"""How the demo city draws its cases from the case taxonomy (事件分类).

The taxonomy itself — slugs, zh/en labels, priorities, time limits — is
``gridmap/cases/taxonomy.toml``; cases store its slugs. What only the demo needs (shares of
cases, priority mix, handling department, title wordings) lives here, as data, keyed by
the same slugs (a test checks they exist in the taxonomy).
"""

from __future__ import annotations

from typing import Any

#: slug → {weight (share of cases), department, priority weights (1 urgent..4 low),
#: subcategories: slug → {titles}}.
CASE_TAXONOMY: dict[str, dict[str, Any]] = {
    "disputes": {
        "weight": 0.12,
        "department": "司法所",
        "priority": (0.03, 0.17, 0.6, 0.2),
        "subcategories": {
            "neighbour_dispute": {
                "titles": ("邻里因噪音发生纠纷", "楼上楼下漏水纠纷", "邻里占道纠纷"),
            },
            "family_dispute": {
                "titles": ("家庭赡养纠纷", "婚姻家庭矛盾"),
            },
            "property_dispute": {
                "titles": ("物业费收缴纠纷", "业主与物业矛盾"),
            },
            "labour_dispute": {
                "titles": ("务工人员讨要工资", "劳动合同纠纷"),
            },
        },
    },
    "public_security": {
        "weight": 0.08,
        "department": "公安分局",
        "priority": (0.1, 0.3, 0.5, 0.1),
        "subcategories": {
            "suspicious_person": {
                "titles": ("小区内发现可疑人员", "夜间有人徘徊"),
            },
            "rental_housing": {
                "titles": ("出租屋人员登记不全", "群租房安全隐患"),
            },
            "fraud_gambling": {
                "titles": ("疑似电信诈骗窝点", "棋牌室聚众赌博"),
            },
        },
    },
    "fire_safety": {
        "weight": 0.11,
        "department": "应急管理局",
        "priority": (0.15, 0.35, 0.4, 0.1),
        "subcategories": {
            "ebike_charging": {
                "titles": ("楼道内电动车充电", "飞线充电"),
            },
            "blocked_fire_exit": {
                "titles": ("消防通道被占用", "安全出口上锁"),
            },
            "gas_hazard": {
                "titles": ("餐饮店燃气软管老化", "闻到燃气异味"),
            },
            "workplace_hazard": {
                "titles": ("工地未设围挡", "小作坊安全隐患"),
            },
        },
    },
    "sanitation": {
        "weight": 0.22,
        "department": "城管局",
        "priority": (0.01, 0.09, 0.6, 0.3),
        "subcategories": {
            "garbage": {
                "titles": ("垃圾桶满溢未清运", "路边乱堆垃圾", "装修垃圾乱倒"),
            },
            "littering": {
                "titles": ("楼道堆放杂物", "公共区域乱倒废品"),
            },
            "illegal_ads": {
                "titles": ("楼道张贴小广告", "墙面喷涂小广告"),
            },
            "noise": {
                "titles": ("夜间施工噪音扰民", "广场舞音响过大", "商铺外放音响"),
            },
            "pollution": {
                "titles": ("餐饮油烟扰民", "露天烧烤", "污水外溢"),
            },
        },
    },
    "municipal": {
        "weight": 0.17,
        "department": "住建局",
        "priority": (0.03, 0.17, 0.55, 0.25),
        "subcategories": {
            "street_light": {
                "titles": ("路灯不亮", "路灯杆倾斜"),
            },
            "road_damage": {
                "titles": ("路面坑洼", "人行道地砖松动"),
            },
            "manhole_cover": {
                "titles": ("井盖缺失", "井盖破损下沉"),
            },
            "water_supply": {
                "titles": ("小区停水", "供水管道漏水"),
            },
        },
    },
    "livelihood": {
        "weight": 0.14,
        "department": "民政局",
        "priority": (0.02, 0.13, 0.6, 0.25),
        "subcategories": {
            "elderly_care": {
                "titles": ("独居老人需要上门探访", "老人行动不便求助"),
            },
            "social_assistance": {
                "titles": ("低保申请咨询", "困难家庭救助"),
            },
            "medical_insurance": {
                "titles": ("医保报销咨询", "社保卡办理"),
            },
            "policy_inquiry": {
                "titles": ("入学政策咨询", "居住证办理咨询"),
            },
        },
    },
    "traffic": {
        "weight": 0.1,
        "department": "交通运输局",
        "priority": (0.03, 0.17, 0.55, 0.25),
        "subcategories": {
            "illegal_parking": {
                "titles": ("机动车占用人行道", "车辆堵塞小区出入口"),
            },
            "traffic_signal": {
                "titles": ("红绿灯不亮", "信号灯配时不合理"),
            },
            "bus_service": {
                "titles": ("公交站台破损", "建议增开公交线路"),
            },
        },
    },
    "petitions": {
        "weight": 0.06,
        "department": "信访局",
        "priority": (0.02, 0.18, 0.5, 0.3),
        "subcategories": {
            "petition_complaint": {
                "titles": ("对办理结果不满意", "投诉物业服务"),
            },
            "petition_suggestion": {
                "titles": ("建议增设便民设施", "建议改造老旧小区"),
            },
            "petition_appeal": {
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
