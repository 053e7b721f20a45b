"""The web view's words in English and Chinese (a catalogue keyed by the English text).

The page templates call ``t("English text")``; a missing Chinese entry shows the English (a test
checks every template string has one). The language comes from ``?lang=``, then the ``lang``
cookie, then the browser's Accept-Language.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("en", "zh")

ZH: dict[str, str] = {
    "borderwatch field view": "边界监测 外勤视图",
    "Team token": "队伍令牌",
    "Log in": "登录",
    "Log out": "退出",
    "Token not accepted.": "令牌无效。",
    "Open alerts": "未结告警",
    "Open cases": "未结案件",
    "Map": "地图",
    "No open alerts in your provinces.": "您的省份没有未结告警。",
    "No open cases in your provinces.": "您的省份没有未结案件。",
    "Alert": "告警",
    "Case": "案件",
    "Severity": "严重程度",
    "Verdicts": "结论",
    "Band": "频段",
    "Frequency": "频率",
    "Provinces": "省份",
    "Source": "来源",
    "Affected": "受影响",
    "State": "状态",
    "First seen": "首次发现",
    "Last seen": "最近发现",
    "Who must act": "应处置方",
    "Findings": "发现",
    "Measurements": "测量",
    "Sensor": "传感器",
    "Measured": "实测",
    "Predicted": "预测",
    "Border limit": "边界限值",
    "Excess": "超出",
    "Position": "位置",
    "uncertainty": "不确定度",
    "Candidate stations": "候选台站",
    "Evidence": "证据",
    "Acknowledge": "确认",
    "Acknowledged by": "确认人",
    "Note": "备注",
    "Add note": "添加备注",
    "Open a case": "立案",
    "Held by": "承办省份",
    "Assigned to": "承办人",
    "Hand-over pending to": "待移交至",
    "Tasks": "任务",
    "Task done": "任务完成",
    "Result": "结果",
    "done": "已完成",
    "open": "未完成",
    "Notes": "备注",
    "Attachments": "附件",
    "Upload photo or file": "上传照片或文件",
    "Upload": "上传",
    "On site": "已到现场",
    "I am on site": "我已到现场",
    "Close case": "结案",
    "Outcome": "结果",
    "Summary": "摘要",
    "History": "历史",
    "stopped": "已停止",
    "licence_amended": "已变更执照",
    "penalised": "已处罚",
    "referred": "已移送",
    "not_found": "未找到",
    "field_search": "实地查找",
    "onsite_measurement": "现场测量",
    "licensee_notice": "通知执照持有人",
    "critical": "紧急",
    "major": "重要",
    "minor": "次要",
    "info": "提示",
    "acknowledged": "已确认",
    "resolved": "已解除",
    "closed": "已结案",
    "unlicensed": "未授权发射",
    "cross_border": "跨省干扰",
    "licence_violation": "违反执照",
    "Accept hand-over": "接受移交",
    "Refuse hand-over": "拒绝移交",
    "Reason": "理由",
    "Hand over to": "移交至",
    "Ask": "提出",
    "New task": "新任务",
    "Description": "说明",
    "Add task": "添加任务",
    "Live updates": "实时更新",
    "updated": "已更新",
    "Back": "返回",
    "Sensors": "传感器",
    "Your position could not be read": "无法获取您的位置",
    "Please correct the form:": "请更正表单：",
    "Write a note (1 to 4000 characters).": "请填写备注（1 至 4000 个字符）。",
    "Choose an outcome.": "请选择结果。",
    "The summary is longer than 4000 characters.": "摘要超过 4000 个字符。",
    "Choose a file to upload.": "请选择要上传的文件。",
    "The file is larger than 10 MiB.": "文件超过 10 MiB。",
    "Only JPEG, PNG or WebP photos, or CSV/JSON/SigMF measurement files.":
        "仅接受 JPEG、PNG、WebP 照片，或 CSV/JSON/SigMF 测量文件。",
    "The file's content does not match its type.": "文件内容与类型不符。",
    "Position: latitude -90..90, longitude -180..180, accuracy 0..100000 m.":
        "位置：纬度 -90..90，经度 -180..180，精度 0..100000 米。",
    "Write what was done (1 to 4000 characters).": "请填写完成情况（1 至 4000 个字符）。",
    "Choose a task.": "请选择任务。",
    "Choose a province code.": "请选择省份代码。",
    "Give a reason (1 to 4000 characters).": "请填写理由（1 至 4000 个字符）。",
    "Choose a task kind.": "请选择任务类型。",
    "Describe the task (1 to 4000 characters).": "请描述任务（1 至 4000 个字符）。",
    "The note is longer than 2000 characters.": "备注超过 2000 个字符。",
    "The monitoring centre refused:": "监测中心拒绝：",
    "Language": "语言",
    "TDOA hyperbola (one per sensor pair)": "TDOA 双曲线（每对传感器一条）",
    "TDOA fix": "TDOA 定位点",
}


def translate(lang: str, text: str) -> str:
    """``text`` in ``lang`` (English when there is no entry)."""
    if lang == "zh":
        return ZH.get(text, text)
    return text


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for v in (query, cookie):
        if v in LANGUAGES:
            return str(v)
    if accept_language and accept_language.strip().lower().startswith("zh"):
        return "zh"
    return "en"
