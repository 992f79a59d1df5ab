"""Every user-facing label of the web app and the map layers, per language.

``t(key, lang, **values)`` looks a key up in ``lang`` (zh-CN is the default and the
fallback) and fills ``{placeholders}``; an unknown key is returned as is, so a missing
label shows up visibly instead of failing.
"""

from __future__ import annotations

from typing import Any

DEFAULT_LANGUAGE = "zh-CN"

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app.title": "gridmap 网格化管理",
        "app.subtitle": "一中心 · 一张网 · 十联户",
        "app.not_found": "页面不存在",
        "lang.switch": "语言",
        "lang.zh-CN": "中文",
        "lang.en": "English",
        "map.page_title": "网格地图",
        "map.layers": "图层",
        "map.legend": "图例",
        "map.empty": "数据库中暂无网格数据。运行 gridmap demo 加载示例城市后刷新页面。",
        "map.error": "无法读取地图数据：数据库不可用或查询失败，请稍后重试。",
        "map.view": "缩放 {zoom}",
        "map.loading": "加载中…",
        "layer.grids": "网格",
        "layer.buildings": "楼栋",
        "layer.cameras": "视频监控",
        "layer.service_points": "服务站点",
        "note.hidden": "放大到 {zoom} 级以上显示",
        "note.capped": "仅显示视图中心附近的 {count} 个",
        "note.shown": "当前视图 {count} 个",
        "note.grids_aggregated": "显示 {count} 个社区，放大到 {zoom} 级显示网格",
        "note.cameras_aggregated": "已按区域汇总 {count} 台，放大到 {zoom} 级显示单个",
        "legend.grid_fill": "网格（颜色区分社区）",
        "legend.grid_line": "网格边界",
        "legend.community": "社区边界（缩小时）",
        "legend.building": "楼栋 / 住户单元",
        "legend.camera_cluster": "摄像头汇总（缩小时，大小表示数量）",
        "field.grid": "网格",
        "field.community": "社区",
        "field.street": "街道",
        "field.lead": "网格长",
        "field.grids": "网格数",
        "field.address": "地址",
        "field.kind": "类型",
        "field.floors": "层数",
        "field.households": "户数",
        "field.population": "人口",
        "field.status": "状态",
        "field.cameras": "摄像头",
        "field.hours": "开放时间",
        "field.phone": "电话",
        "building.residential": "住宅",
        "building.commercial": "商业",
        "building.mixed": "商住混合",
        "building.office": "办公",
        "building.industrial": "工业",
        "building.school": "学校",
        "building.hospital": "医院",
        "building.public": "公共建筑",
        "camera.online": "在线",
        "camera.offline": "离线",
        "camera.fault": "故障",
        "camera.dome": "球机",
        "camera.bullet": "枪机",
        "camera.face": "人脸识别",
        "camera.vehicle": "车辆识别",
        "camera.thermal": "热成像",
        "service.party_service_center": "党群服务中心",
        "service.convenience_station": "便民服务站",
        "service.governance_center": "综治中心",
        "service.police_office": "警务室",
        "service.health_station": "卫生服务站",
        "service.elderly_care": "养老服务站",
        "unknown": "未填写",
    },
    "en": {
        "app.title": "gridmap grid management",
        "app.subtitle": "One centre · one network",
        "app.not_found": "Page not found",
        "lang.switch": "Language",
        "lang.zh-CN": "中文",
        "lang.en": "English",
        "map.page_title": "Grid map",
        "map.layers": "Layers",
        "map.legend": "Legend",
        "map.empty": "No grids in the database yet. Run gridmap demo to load the demo city, "
        "then reload this page.",
        "map.error": "The map data could not be read: the database is unavailable or a query "
        "failed. Please try again shortly.",
        "map.view": "Zoom {zoom}",
        "map.loading": "Loading…",
        "layer.grids": "Grids",
        "layer.buildings": "Buildings",
        "layer.cameras": "Cameras",
        "layer.service_points": "Service points",
        "note.hidden": "Zoom in to level {zoom} to show",
        "note.capped": "Showing the {count} nearest the view centre",
        "note.shown": "{count} in view",
        "note.grids_aggregated": "{count} communities shown; zoom in to level {zoom} for grids",
        "note.cameras_aggregated": "{count} cameras grouped by area; zoom in to level {zoom}",
        "legend.grid_fill": "Grid (colour per community)",
        "legend.grid_line": "Grid boundary",
        "legend.community": "Community boundary (zoomed out)",
        "legend.building": "Building / household unit",
        "legend.camera_cluster": "Camera group (zoomed out, size = count)",
        "field.grid": "Grid",
        "field.community": "Community",
        "field.street": "Street",
        "field.lead": "Grid lead",
        "field.grids": "Grids",
        "field.address": "Address",
        "field.kind": "Kind",
        "field.floors": "Floors",
        "field.households": "Households",
        "field.population": "Population",
        "field.status": "Status",
        "field.cameras": "Cameras",
        "field.hours": "Opening hours",
        "field.phone": "Phone",
        "building.residential": "Residential",
        "building.commercial": "Commercial",
        "building.mixed": "Mixed use",
        "building.office": "Office",
        "building.industrial": "Industrial",
        "building.school": "School",
        "building.hospital": "Hospital",
        "building.public": "Public building",
        "camera.online": "Online",
        "camera.offline": "Offline",
        "camera.fault": "Fault",
        "camera.dome": "Dome",
        "camera.bullet": "Bullet",
        "camera.face": "Face recognition",
        "camera.vehicle": "Vehicle recognition",
        "camera.thermal": "Thermal",
        "service.party_service_center": "Party-masses service centre",
        "service.convenience_station": "Convenience service station",
        "service.governance_center": "Social governance centre",
        "service.police_office": "Police office",
        "service.health_station": "Health station",
        "service.elderly_care": "Elderly care station",
        "unknown": "not given",
    },
}

LANGUAGES = tuple(MESSAGES)


def normalize_language(value: str | None) -> str:
    """A supported language code for ``value`` (``en``, ``en-US`` → en; else zh-CN)."""
    if value:
        low = value.strip().lower()
        for code in LANGUAGES:
            if low == code.lower() or low.split("-")[0] == code.lower().split("-")[0]:
                return code
    return DEFAULT_LANGUAGE


def t(key: str, lang: str, **values: Any) -> str:
    """The label for ``key`` in ``lang`` with ``values`` filled in."""
    text = MESSAGES.get(lang, {}).get(key) or MESSAGES[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values) if values else text
