<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AlertDetail</name>
    <message>
        <source>Alert</source>
        <translation>告警</translation>
    </message>
    <message>
        <source>Band</source>
        <translation>频段</translation>
    </message>
    <message>
        <source>bandwidth</source>
        <translation>带宽</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>affected</source>
        <translation>受影响</translation>
    </message>
    <message>
        <source>First seen</source>
        <translation>首次发现</translation>
    </message>
    <message>
        <source>last seen</source>
        <translation>最近发现</translation>
    </message>
    <message>
        <source>acknowledged by</source>
        <translation>确认人</translation>
    </message>
    <message>
        <source>resolved by</source>
        <translation>解决人</translation>
    </message>
    <message>
        <source>note</source>
        <translation>备注</translation>
    </message>
    <message>
        <source>Estimated position</source>
        <translation>估计位置</translation>
    </message>
    <message>
        <source>error</source>
        <translation>误差</translation>
    </message>
    <message>
        <source>Measured vs predicted per sensor</source>
        <translation>各传感器实测与预测对比</translation>
    </message>
    <message>
        <source>Sensor</source>
        <translation>传感器</translation>
    </message>
    <message>
        <source>Province</source>
        <translation>省份</translation>
    </message>
    <message>
        <source>Measured dB(uV/m)</source>
        <translation>实测 dB(μV/m)</translation>
    </message>
    <message>
        <source>Measured dBm</source>
        <translation>实测 dBm</translation>
    </message>
    <message>
        <source>Predicted dB(uV/m)</source>
        <translation>预测 dB(μV/m)</translation>
    </message>
    <message>
        <source>Border limit dB(uV/m)</source>
        <translation>省界限值 dB(μV/m)</translation>
    </message>
    <message>
        <source>Excess dB</source>
        <translation>超出 dB</translation>
    </message>
    <message>
        <source>Candidate stations</source>
        <translation>候选台站</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>台站</translation>
    </message>
    <message>
        <source>TX (MHz)</source>
        <translation>发射频率 (MHz)</translation>
    </message>
    <message>
        <source>Offset (kHz)</source>
        <translation>频偏 (kHz)</translation>
    </message>
    <message>
        <source>ERP (dBW)</source>
        <translation>有效辐射功率 (dBW)</translation>
    </message>
    <message>
        <source>Predicted dB(uV/m) per sensor</source>
        <translation>各传感器预测 dB(μV/m)</translation>
    </message>
    <message>
        <source>Evidence</source>
        <translation>证据</translation>
    </message>
    <message>
        <source>IQ captures ordered</source>
        <translation>已调取的 IQ 采集</translation>
    </message>
    <message>
        <source>Capture</source>
        <translation>采集</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
</context>
<context>
    <name>AlertTableModel</name>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>Verdict</source>
        <translation>判定</translation>
    </message>
    <message>
        <source>Band</source>
        <translation>频段</translation>
    </message>
    <message>
        <source>Frequency (MHz)</source>
        <translation>频率 (MHz)</translation>
    </message>
    <message>
        <source>Provinces (source -&gt; affected)</source>
        <translation>省份（来源 -&gt; 受影响）</translation>
    </message>
    <message>
        <source>First seen (UTC)</source>
        <translation>首次发现 (UTC)</translation>
    </message>
    <message>
        <source>Last seen (UTC)</source>
        <translation>最近发现 (UTC)</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>ID</source>
        <translation>编号</translation>
    </message>
</context>
<context>
    <name>AlertsWidget</name>
    <message>
        <source>Open and acknowledged</source>
        <translation>未处理和已确认</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>未处理</translation>
    </message>
    <message>
        <source>Acknowledged</source>
        <translation>已确认</translation>
    </message>
    <message>
        <source>Resolved</source>
        <translation>已解决</translation>
    </message>
    <message>
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>your name</source>
        <translation>您的姓名</translation>
    </message>
    <message>
        <source>note (optional)</source>
        <translation>备注（可选）</translation>
    </message>
    <message>
        <source>Acknowledge</source>
        <translation>确认</translation>
    </message>
    <message>
        <source>Resolve</source>
        <translation>解决</translation>
    </message>
    <message>
        <source>Show:</source>
        <translation>显示：</translation>
    </message>
    <message>
        <source>Operator:</source>
        <translation>值班员：</translation>
    </message>
    <message>
        <source>Enter your name as operator first.</source>
        <translation>请先填写值班员姓名。</translation>
    </message>
    <message>
        <source>Request sent for {0}...</source>
        <translation>已为 {0} 发出请求……</translation>
    </message>
</context>
<context>
    <name>ArchiveBar</name>
    <message>
        <source>Play</source>
        <translation>播放</translation>
    </message>
    <message>
        <source>{0} s per step</source>
        <translation>每步 {0} 秒</translation>
    </message>
    <message>
        <source>Archive time (UTC):</source>
        <translation>存档时间 (UTC)：</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
</context>
<context>
    <name>CaseDetail</name>
    <message>
        <source>Held by</source>
        <translation>承办省份</translation>
    </message>
    <message>
        <source>Who must act</source>
        <translation>应处置方</translation>
    </message>
    <message>
        <source>Hand-over asked to</source>
        <translation>请求移交给</translation>
    </message>
    <message>
        <source>Tasks</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>done</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>to do</source>
        <translation>未完成</translation>
    </message>
    <message>
        <source>Notes</source>
        <translation>备注</translation>
    </message>
    <message>
        <source>Attachments</source>
        <translation>附件</translation>
    </message>
    <message>
        <source>History</source>
        <translation>历史</translation>
    </message>
</context>
<context>
    <name>CaseTableModel</name>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>Case</source>
        <translation>案件</translation>
    </message>
    <message>
        <source>Held by</source>
        <translation>承办省份</translation>
    </message>
    <message>
        <source>Hand-over to</source>
        <translation>移交至</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Band</source>
        <translation>频段</translation>
    </message>
    <message>
        <source>Updated (UTC)</source>
        <translation>更新时间 (UTC)</translation>
    </message>
    <message>
        <source>Alert</source>
        <translation>告警</translation>
    </message>
</context>
<context>
    <name>CasesWidget</name>
    <message>
        <source>your name</source>
        <translation>您的姓名</translation>
    </message>
    <message>
        <source>note, reason or summary</source>
        <translation>备注、理由或摘要</translation>
    </message>
    <message>
        <source>Add note</source>
        <translation>添加备注</translation>
    </message>
    <message>
        <source>Ask to take over</source>
        <translation>请求接手</translation>
    </message>
    <message>
        <source>Close case</source>
        <translation>结案</translation>
    </message>
    <message>
        <source>Operator:</source>
        <translation>值班员：</translation>
    </message>
    <message>
        <source>Enter your name as operator first.</source>
        <translation>请先输入操作员姓名。</translation>
    </message>
    <message>
        <source>Write the note or the reason first.</source>
        <translation>请先填写备注或理由。</translation>
    </message>
    <message>
        <source>Request sent for {0}...</source>
        <translation>已为 {0} 发送请求……</translation>
    </message>
</context>
<context>
    <name>CoordinationWidget</name>
    <message>
        <source>My province:</source>
        <translation>本省：</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>请求</translation>
    </message>
    <message>
        <source>From</source>
        <translation>来自</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>台站</translation>
    </message>
    <message>
        <source>Frequency (MHz)</source>
        <translation>频率 (MHz)</translation>
    </message>
    <message>
        <source>Worst field (dBuV/m)</source>
        <translation>最大场强 (dBuV/m)</translation>
    </message>
    <message>
        <source>Over the limit (km)</source>
        <translation>超限长度 (km)</translation>
    </message>
    <message>
        <source>Deadline</source>
        <translation>答复期限</translation>
    </message>
    <message>
        <source>Position along the border (km)</source>
        <translation>沿边界位置 (km)</translation>
    </message>
    <message>
        <source>Predicted field (dBuV/m)</source>
        <translation>预测场强 (dBuV/m)</translation>
    </message>
    <message>
        <source>{0} request(s) waiting for {1}</source>
        <translation>{0} 个请求等待{1}答复</translation>
    </message>
    <message>
        <source>{0}: field along the {1} border, limit {2:g} dBuV/m</source>
        <translation>{0}：沿{1}边界的场强，限值 {2:g} dBuV/m</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>borderwatch console</source>
        <extracomment>Bump when docks are added/renamed so an old saved layout is not applied to a different window.</extracomment>
        <translation>borderwatch 监测控制台</translation>
    </message>
    <message>
        <source>Sensors</source>
        <translation>传感器</translation>
    </message>
    <message>
        <source>Map</source>
        <translation>地图</translation>
    </message>
    <message>
        <source>Spectrum</source>
        <translation>频谱</translation>
    </message>
    <message>
        <source>Waterfall</source>
        <translation>瀑布图</translation>
    </message>
    <message>
        <source>Alerts</source>
        <translation>告警</translation>
    </message>
    <message>
        <source>Cases</source>
        <translation>案件</translation>
    </message>
    <message>
        <source>Occupancy</source>
        <translation>占用度</translation>
    </message>
    <message>
        <source>Stations</source>
        <translation>台站</translation>
    </message>
    <message>
        <source>Coordination</source>
        <translation>协调请求</translation>
    </message>
    <message>
        <source>View</source>
        <translation>视图</translation>
    </message>
    <message>
        <source>Profile:</source>
        <translation>监测方案：</translation>
    </message>
    <message>
        <source>Connecting to {0}...</source>
        <translation>正在连接 {0}……</translation>
    </message>
    <message>
        <source>No answer from the server ({0})</source>
        <translation>服务器无应答（{0}）</translation>
    </message>
    <message>
        <source>Archive replay: cases cannot be changed</source>
        <translation>存档回放：无法修改案件</translation>
    </message>
    <message>
        <source>Connected to {0}</source>
        <translation>已连接 {0}</translation>
    </message>
    <message>
        <source>Archive replay: alerts cannot be changed</source>
        <translation>存档回放：不能修改告警</translation>
    </message>
    <message>
        <source>{0}: {1}</source>
        <translation>{0}：{1}</translation>
    </message>
    <message>
        <source>{0} failed: {1}</source>
        <translation>{0} 失败：{1}</translation>
    </message>
    <message>
        <source>no station database (use --stations DB)</source>
        <translation>没有台站数据库（请用 --stations DB）</translation>
    </message>
    <message>
        <source>borderwatch console - archive {0}</source>
        <translation>borderwatch 监测控制台 - 存档 {0}</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>存档</translation>
    </message>
    <message>
        <source>Archive replay (no server)</source>
        <translation>存档回放（无服务器）</translation>
    </message>
</context>
<context>
    <name>MapWidget</name>
    <message>
        <source>Longitude (deg E)</source>
        <extracomment>Most licensed stations drawn (a scatter of thousands stays fast; this bounds pathological DBs).</extracomment>
        <translation>经度（东经，度）</translation>
    </message>
    <message>
        <source>Latitude (deg N)</source>
        <translation>纬度（北纬，度）</translation>
    </message>
    <message>
        <source>All bands</source>
        <translation>全部频段</translation>
    </message>
    <message>
        <source>Stations in band:</source>
        <translation>显示频段内台站：</translation>
    </message>
    <message>
        <source>{0} stations shown</source>
        <translation>显示 {0} 个台站</translation>
    </message>
</context>
<context>
    <name>OccupancyWidget</name>
    <message>
        <source>Channel</source>
        <translation>信道</translation>
    </message>
    <message>
        <source>Interval (newest at top)</source>
        <translation>时段（最新在上）</translation>
    </message>
    <message>
        <source>FCO (%)</source>
        <translation>信道占用度 FCO (%)</translation>
    </message>
    <message>
        <source>Band occupancy (%)</source>
        <translation>频段占用度 (%)</translation>
    </message>
    <message>
        <source>Time (UTC)</source>
        <translation>时间 (UTC)</translation>
    </message>
    <message>
        <source>Whole profile</source>
        <translation>整个监测方案</translation>
    </message>
    <message>
        <source>Band:</source>
        <translation>频段：</translation>
    </message>
    <message>
        <source>No occupancy data</source>
        <translation>没有占用度数据</translation>
    </message>
    <message>
        <source>{0} channels, {1} intervals, latest band occupancy {2:.1f} %</source>
        <translation>{0} 个信道，{1} 个时段，最新频段占用度 {2:.1f} %</translation>
    </message>
</context>
<context>
    <name>SensorsWidget</name>
    <message>
        <source>Sensor</source>
        <extracomment>status_code in the server&apos;s sensor.&lt;id&gt; publications</extracomment>
        <translation>传感器</translation>
    </message>
    <message>
        <source>Province</source>
        <translation>省份</translation>
    </message>
    <message>
        <source>Position</source>
        <translation>位置</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Last seen (UTC)</source>
        <translation>最近上报 (UTC)</translation>
    </message>
    <message>
        <source>Spool depth</source>
        <translation>缓存积压</translation>
    </message>
    <message>
        <source>Drops</source>
        <translation>丢弃</translation>
    </message>
</context>
<context>
    <name>SpectrumWidget</name>
    <message>
        <source>Frequency</source>
        <extracomment>Most station spans drawn at once (the band view shows a handful; a wide view shows the first ones). Station names are written only when at most this many stations are in the visible range.</extracomment>
        <translation>频率</translation>
    </message>
    <message>
        <source>Current</source>
        <translation>当前</translation>
    </message>
    <message>
        <source>Max hold</source>
        <translation>最大保持</translation>
    </message>
    <message>
        <source>Min hold</source>
        <translation>最小保持</translation>
    </message>
    <message>
        <source>Average</source>
        <translation>平均</translation>
    </message>
    <message>
        <source>noise floor</source>
        <translation>噪声基底</translation>
    </message>
    <message>
        <source>threshold</source>
        <translation>门限</translation>
    </message>
    <message>
        <source>dBm</source>
        <translation>dBm</translation>
    </message>
    <message>
        <source>dB(uV/m)</source>
        <translation>dB(μV/m)</translation>
    </message>
    <message>
        <source>Unit:</source>
        <translation>单位：</translation>
    </message>
    <message>
        <source>Reset holds</source>
        <translation>重置保持</translation>
    </message>
    <message>
        <source>Clear markers</source>
        <translation>清除标记</translation>
    </message>
    <message>
        <source>Double-click the plot to place a marker</source>
        <translation>双击图形放置标记</translation>
    </message>
    <message>
        <source>Level (dBm)</source>
        <translation>电平 (dBm)</translation>
    </message>
    <message>
        <source>Field strength (dB(uV/m))</source>
        <translation>场强 (dB(μV/m))</translation>
    </message>
</context>
<context>
    <name>StationsWidget</name>
    <message>
        <source>any</source>
        <translation>任意</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>查询</translation>
    </message>
    <message>
        <source>Frequency:</source>
        <translation>频率：</translation>
    </message>
    <message>
        <source>Span:</source>
        <translation>带宽：</translation>
    </message>
    <message>
        <source>Province:</source>
        <translation>省份：</translation>
    </message>
    <message>
        <source>Service:</source>
        <translation>业务：</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>台站</translation>
    </message>
    <message>
        <source>Province</source>
        <translation>省份</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>台站名称</translation>
    </message>
    <message>
        <source>Licensee</source>
        <translation>持证单位</translation>
    </message>
    <message>
        <source>Service</source>
        <translation>业务</translation>
    </message>
    <message>
        <source>TX (MHz)</source>
        <translation>发射频率 (MHz)</translation>
    </message>
    <message>
        <source>Emission</source>
        <translation>发射标识</translation>
    </message>
    <message>
        <source>ERP (dBW)</source>
        <translation>有效辐射功率 (dBW)</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Searching...</source>
        <translation>正在查询……</translation>
    </message>
    <message>
        <source>{0} stations found</source>
        <translation>找到 {0} 个台站</translation>
    </message>
    <message>
        <source>Search failed: {0}</source>
        <translation>查询失败：{0}</translation>
    </message>
</context>
<context>
    <name>WaterfallWidget</name>
    <message>
        <source>Frequency</source>
        <translation>频率</translation>
    </message>
    <message>
        <source>Sweeps (newest at top)</source>
        <translation>扫描（最新在上）</translation>
    </message>
    <message>
        <source>dBm</source>
        <translation>dBm</translation>
    </message>
    <message>
        <source>Auto levels</source>
        <translation>自动电平</translation>
    </message>
    <message>
        <source>Levels (dBm):</source>
        <translation>电平范围 (dBm)：</translation>
    </message>
    <message>
        <source>to</source>
        <translation>至</translation>
    </message>
</context>
<context>
    <name>case_states</name>
    <message>
        <source>open</source>
        <translation>未结案</translation>
    </message>
    <message>
        <source>closed</source>
        <translation>已结案</translation>
    </message>
    <message>
        <source>merged</source>
        <translation>已合并</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>licence amended</source>
        <translation>已变更执照</translation>
    </message>
    <message>
        <source>penalised</source>
        <translation>已处罚</translation>
    </message>
    <message>
        <source>referred</source>
        <translation>已移送</translation>
    </message>
    <message>
        <source>not found</source>
        <translation>未找到</translation>
    </message>
</context>
<context>
    <name>labels</name>
    <message>
        <source>Shanghai</source>
        <translation>上海</translation>
    </message>
    <message>
        <source>Jiangsu</source>
        <translation>江苏</translation>
    </message>
    <message>
        <source>Zhejiang</source>
        <translation>浙江</translation>
    </message>
    <message>
        <source>Anhui</source>
        <translation>安徽</translation>
    </message>
    <message>
        <source>unlicensed emission</source>
        <translation>未授权发射</translation>
    </message>
    <message>
        <source>cross-border interference</source>
        <translation>跨省干扰</translation>
    </message>
    <message>
        <source>licence violation</source>
        <translation>违规发射</translation>
    </message>
    <message>
        <source>critical</source>
        <translation>紧急</translation>
    </message>
    <message>
        <source>major</source>
        <translation>重要</translation>
    </message>
    <message>
        <source>minor</source>
        <translation>次要</translation>
    </message>
    <message>
        <source>info</source>
        <translation>提示</translation>
    </message>
    <message>
        <source>open</source>
        <translation>未处理</translation>
    </message>
    <message>
        <source>acknowledged</source>
        <translation>已确认</translation>
    </message>
    <message>
        <source>resolved</source>
        <translation>已解决</translation>
    </message>
    <message>
        <source>live</source>
        <translation>在线</translation>
    </message>
    <message>
        <source>late</source>
        <translation>延迟</translation>
    </message>
    <message>
        <source>down</source>
        <translation>离线</translation>
    </message>
    <message>
        <source>broadcast</source>
        <translation>广播</translation>
    </message>
    <message>
        <source>land mobile</source>
        <translation>陆地移动</translation>
    </message>
    <message>
        <source>aeronautical</source>
        <translation>航空</translation>
    </message>
    <message>
        <source>maritime</source>
        <translation>水上</translation>
    </message>
    <message>
        <source>railway</source>
        <translation>铁路</translation>
    </message>
    <message>
        <source>public mobile</source>
        <translation>公众移动通信</translation>
    </message>
    <message>
        <source>fixed</source>
        <translation>固定</translation>
    </message>
    <message>
        <source>other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>active</source>
        <translation>有效</translation>
    </message>
    <message>
        <source>planned</source>
        <translation>拟设</translation>
    </message>
    <message>
        <source>suspended</source>
        <translation>暂停</translation>
    </message>
    <message>
        <source>expired</source>
        <translation>过期</translation>
    </message>
    <message>
        <source>VHF low land mobile</source>
        <extracomment>Band names of the shipped coordination rules (station_db/data/rules.toml); the wire and the rules carry the English name, the console shows its translation (e.g. 水上甚高频).</extracomment>
        <translation>甚高频低段陆地移动</translation>
    </message>
    <message>
        <source>VHF mid land mobile</source>
        <translation>甚高频中段陆地移动</translation>
    </message>
    <message>
        <source>FM broadcast</source>
        <translation>调频广播</translation>
    </message>
    <message>
        <source>Aeronautical VHF (airband)</source>
        <translation>航空甚高频（航空波段）</translation>
    </message>
    <message>
        <source>PMR 150 (VHF high land mobile)</source>
        <translation>PMR 150（甚高频高段陆地移动）</translation>
    </message>
    <message>
        <source>Maritime VHF</source>
        <translation>水上甚高频</translation>
    </message>
    <message>
        <source>VHF high land mobile (upper)</source>
        <translation>甚高频高段陆地移动（上段）</translation>
    </message>
    <message>
        <source>UHF 380 land mobile (TETRA/PDT)</source>
        <translation>特高频 380 陆地移动（TETRA/PDT）</translation>
    </message>
    <message>
        <source>PMR 400</source>
        <translation>PMR 400</translation>
    </message>
    <message>
        <source>Public mobile 900</source>
        <translation>公众移动通信 900</translation>
    </message>
    <message>
        <source>Public mobile 1800</source>
        <translation>公众移动通信 1800</translation>
    </message>
</context>
</TS>
