<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<!-- Simplified Chinese for medview. Context names are the Python class names that call
     self.tr(), or the first argument of QCoreApplication.translate(). Compile with
     .venv/bin/pyside6-lrelease medview/resources/i18n/medview_zh_CN.ts
     Text drawn inside the VTK views (QtSliceView, QtVolumeView, plane titles) is left in
     English on purpose: VTK's built-in fonts have no CJK glyphs.
     tests/unit/test_translations_complete.py finds every translated string in medview/view
     and medview/app, checks each has a finished translation here (its allow-lists name the
     exceptions and why) and that the .qm was rebuilt from this file. -->
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>QtMainWindow</name>
    <message>
        <source>&amp;Slab projection</source>
        <translation>层块投影(&amp;S)</translation>
    </message>
    <!-- File › Export report… and the report dock (issue 8, medview/app/report_dock.py) -->
    <message>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <source>Export &amp;report…</source>
        <translation>导出报告(&amp;R)…</translation>
    </message>
    <message>
        <source>Signed. Export now to write the verified report.</source>
        <translation>已签名。现在导出即可写出已验证的报告。</translation>
    </message>
    <message>
        <source>Export the report into a folder</source>
        <translation>将报告导出到文件夹</translation>
    </message>
    <message>
        <source>Finalise the report</source>
        <translation>定稿报告</translation>
    </message>
    <message>
        <source>Enter the reader's name first: a signed report names who signed it.</source>
        <translation>请先输入阅片医师姓名：已签名的报告须注明签名人。</translation>
    </message>
    <message>
        <source>Open a series first.</source>
        <translation>请先打开一个序列。</translation>
    </message>
    <message>
        <source>Choose at least one format.</source>
        <translation>请至少选择一种格式。</translation>
    </message>
    <message>
        <source>Report exported to {folder}: {files}.</source>
        <translation>报告已导出到 {folder}：{files}。</translation>
    </message>
    <message>
        <source>Could not export the report: {reason}</source>
        <translation>无法导出报告：{reason}</translation>
    </message>
    <message>
        <source>Exporting the report to {folder}…</source>
        <translation>正在将报告导出到 {folder}…</translation>
    </message>
    <message>
        <source>Sign the report as {reader}? It reports {count} accepted finding(s); the exported DICOM SR will be VERIFIED with you as the verifying observer.</source>
        <translation>以 {reader} 的身份签署报告？报告包含 {count} 个已接受的发现；导出的 DICOM SR 将标记为 VERIFIED（已验证），并以您为验证观察者。</translation>
    </message>
    <message>
        <source>Note: {warnings}.</source>
        <translation>注意：{warnings}。</translation>
    </message>
    <message>
        <source>AI</source>
        <translation>AI</translation>
    </message>
    <message>
        <source>&amp;AI</source>
        <translation>AI(&amp;A)</translation>
    </message>
    <message>
        <source>AI &amp;panel</source>
        <translation>AI 面板(&amp;P)</translation>
    </message>
    <message>
        <source>That overlay belongs to another series; open it first.</source>
        <translation>该叠加图属于另一个序列；请先打开该序列。</translation>
    </message>
    <message>
        <source>&amp;Window/level</source>
        <translation>窗宽/窗位(&amp;W)</translation>
    </message>
    <message>
        <source>&amp;Pan</source>
        <translation>平移(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Zoom</source>
        <translation>缩放(&amp;Z)</translation>
    </message>
    <message>
        <source>Left &amp;drag</source>
        <translation>左键拖动(&amp;D)</translation>
    </message>
    <message>
        <source>The saved measurements of this study could not be read ({reason}); the file was kept as {aside}.</source>
        <translation>无法读取此检查已保存的测量（{reason}）；该文件已保留为 {aside}。</translation>
    </message>
    <message>
        <source>Could not save the measurements to {path}: {reason}</source>
        <translation>无法将测量保存到 {path}：{reason}</translation>
    </message>
    <message>
        <source>medview was not closed properly last time; restored {count} measurement(s) of this study, saved at {time}.</source>
        <translation>medview 上次未正常关闭；已恢复此检查的 {count} 项测量（保存于 {time}）。</translation>
    </message>
    <message>
        <source>Synthetic or derived image, not an original acquisition</source>
        <translation>合成或派生图像，并非原始采集</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>An import is already running; wait for it or cancel it first.</source>
        <translation>已有导入正在进行；请等待其完成或先取消。</translation>
    </message>
    <message>
        <source>Preparing the demo study…</source>
        <translation>正在准备演示检查…</translation>
    </message>
    <message>
        <source>Generating the demo study (first start only)…</source>
        <translation>正在生成演示检查（仅首次启动）…</translation>
    </message>
    <message>
        <source>{modality} {shape} voxels, {spacing} mm</source>
        <translation>{modality} {shape} 体素，{spacing} 毫米</translation>
    </message>
    <message>
        <source>Image</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>Studies</source>
        <translation>检查</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>Import &amp;folder…</source>
        <translation>导入文件夹(&amp;F)…</translation>
    </message>
    <message>
        <source>Import f&amp;iles…</source>
        <translation>导入文件(&amp;I)…</translation>
    </message>
    <message>
        <source>&amp;Open folder…</source>
        <translation>打开文件夹(&amp;O)…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Layout</source>
        <translation>布局(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Window presets</source>
        <translation>窗宽窗位预设(&amp;W)</translation>
    </message>
    <message>
        <source>&amp;3D rendering</source>
        <translation>三维渲染(&amp;3)</translation>
    </message>
    <message>
        <source>CT bone</source>
        <translation>CT 骨骼</translation>
    </message>
    <message>
        <source>CT lung</source>
        <translation>CT 肺</translation>
    </message>
    <message>
        <source>Soft tissue</source>
        <translation>软组织</translation>
    </message>
    <message>
        <source>MIP</source>
        <translation>最大密度投影 (MIP)</translation>
    </message>
    <message>
        <source>&amp;Theme</source>
        <translation>主题(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;Dark (reading room)</source>
        <translation>深色（阅片室）(&amp;D)</translation>
    </message>
    <message>
        <source>&amp;Light</source>
        <translation>浅色(&amp;L)</translation>
    </message>
    <message>
        <source>L&amp;anguage (applies after restart)</source>
        <translation>语言（重启后生效）(&amp;A)</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>The language changes when medview is restarted.</source>
        <translation>重新启动 medview 后语言才会更改。</translation>
    </message>
    <message>
        <source>Import a DICOM folder</source>
        <translation>导入 DICOM 文件夹</translation>
    </message>
    <message>
        <source>Import DICOM files</source>
        <translation>导入 DICOM 文件</translation>
    </message>
    <message>
        <source>DICOM files (*.dcm *.DCM *.ima *.IMA DICOMDIR *.zip);;All files (*)</source>
        <translation>DICOM 文件 (*.dcm *.DCM *.ima *.IMA DICOMDIR *.zip);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open DICOM folder</source>
        <translation>打开 DICOM 文件夹</translation>
    </message>
    <message>
        <source>Importing needs the study database.</source>
        <translation>导入需要检查数据库。</translation>
    </message>
    <message>
        <source>Import failed: {reason}</source>
        <translation>导入失败：{reason}</translation>
    </message>
    <message>
        <source>Import cancelled; nothing was added.</source>
        <translation>导入已取消；未添加任何内容。</translation>
    </message>
    <message>
        <source>No image</source>
        <translation>无图像</translation>
    </message>
    <message>
        <source>Nothing to show</source>
        <translation>没有可显示的内容</translation>
    </message>
    <message>
        <source>The loader returned something that is not an image volume.</source>
        <translation>加载器返回的不是图像体数据。</translation>
    </message>
    <message>
        <source>Could not load the image</source>
        <translation>无法加载图像</translation>
    </message>
    <message>
        <source>Could not open the study</source>
        <translation>无法打开检查</translation>
    </message>
    <message>
        <source>Imported {new} new images ({known} already known) in {series} series.</source>
        <translation>已导入 {new} 幅新图像（{known} 幅已存在），共 {series} 个序列。</translation>
    </message>
    <message>
        <source>{count} files could not be read (first: {path}: {reason}).</source>
        <translation>{count} 个文件无法读取（第一个：{path}：{reason}）。</translation>
    </message>
    <!-- Measure menu and dock (medview/app/measure_dock.py), reports re-imported with a series (medview/app/reimport_wiring.py) -->
    <message>
        <source>&amp;Measure</source>
        <translation>测量(&amp;M)</translation>
    </message>
    <message>
        <source>Measurements</source>
        <translation>测量</translation>
    </message>
    <message>
        <source>{count} finding(s) imported from {reports} report object(s).</source>
        <translation>已从 {reports} 个报告对象导入 {count} 个发现。</translation>
    </message>
    <message>
        <source>Could not import a report: {reason}</source>
        <translation>无法导入报告：{reason}</translation>
    </message>
</context>
<context>
    <name>QtStudyBrowser</name>
    <message>
        <source>Search patient name, ID, accession number, date or modality</source>
        <translation>搜索患者姓名、ID、检查号、日期或模态</translation>
    </message>
    <message>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <source>{name} — ID {id}</source>
        <translation>{name} — ID {id}</translation>
    </message>
    <message>
        <source>Patient {name}, ID {id}, born {birth}, sex {sex}</source>
        <translation>患者 {name}，ID {id}，出生日期 {birth}，性别 {sex}</translation>
    </message>
    <message>
        <source>(no description)</source>
        <translation>（无描述）</translation>
    </message>
    <message>
        <source>Accession {accession}, Study Instance UID {uid}</source>
        <translation>检查号 {accession}，检查实例 UID {uid}</translation>
    </message>
    <message>
        <source>Series Instance UID {uid}</source>
        <translation>序列实例 UID {uid}</translation>
    </message>
    <message>
        <source>Name / description</source>
        <translation>姓名 / 描述</translation>
    </message>
    <message>
        <source>Date</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Instances</source>
        <translation>图像数</translation>
    </message>
</context>
<context>
    <name>QtImportController</name>
    <message>
        <source>Cancelling the import…</source>
        <translation>正在取消导入…</translation>
    </message>
    <message>
        <source>Reading DICOM headers… {percent}%</source>
        <translation>正在读取 DICOM 头信息… {percent}%</translation>
    </message>
    <message>
        <source>Updating the study database…</source>
        <translation>正在更新检查数据库…</translation>
    </message>
    <message>
        <source>Import complete</source>
        <translation>导入完成</translation>
    </message>
</context>
<context>
    <name>QtImportProgress</name>
    <message>
        <source>No import running</source>
        <translation>没有正在进行的导入</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Importing…</source>
        <translation>正在导入…</translation>
    </message>
    <message>
        <source>Cancelling the import…</source>
        <translation>正在取消导入…</translation>
    </message>
    <message>
        <source>Imported {new} new images ({known} already known) in {series} series</source>
        <translation>已导入 {new} 幅新图像（{known} 幅已存在），共 {series} 个序列</translation>
    </message>
    <message>
        <source>{count} files could not be read.</source>
        <translation>{count} 个文件无法读取。</translation>
    </message>
    <message>
        <source>Import complete</source>
        <translation>导入完成</translation>
    </message>
    <message>
        <source>Import cancelled; nothing was added.</source>
        <translation>导入已取消；未添加任何内容。</translation>
    </message>
</context>
<context>
    <name>QtJobRunner</name>
    <message>
        <source>An unexpected error occurred ({name}); details are in the log file.</source>
        <translation>发生意外错误（{name}）；详细信息见日志文件。</translation>
    </message>
</context>
<context>
    <name>QtMprLayout</name>
    <message>
        <source>&amp;MIP (maximum intensity)</source>
        <translation>最大密度投影 MIP(&amp;M)</translation>
    </message>
    <message>
        <source>Mi&amp;nIP (minimum intensity)</source>
        <translation>最小密度投影 MinIP(&amp;N)</translation>
    </message>
    <message>
        <source>A&amp;verage intensity</source>
        <translation>平均密度投影(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Thicker slab</source>
        <translation>加厚层块(&amp;T)</translation>
    </message>
    <message>
        <source>T&amp;hinner slab</source>
        <translation>减薄层块(&amp;H)</translation>
    </message>
    <message>
        <source>{plane} · {mode} {thickness:g} mm</source>
        <translation>{plane} · {mode} {thickness:g} mm</translation>
    </message>
    <message>
        <source>MIP</source>
        <translation>MIP</translation>
    </message>
    <message>
        <source>MinIP</source>
        <translation>MinIP</translation>
    </message>
    <message>
        <source>Average</source>
        <translation>平均</translation>
    </message>
    <message>
        <source>{label} window</source>
        <translation>{label}窗</translation>
    </message>
    <message>
        <source>&amp;Reset view</source>
        <translation>重置视图(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Invert grey levels</source>
        <translation>反转灰度(&amp;I)</translation>
    </message>
    <message>
        <source>Rotate planes &amp;left</source>
        <translation>向左旋转平面(&amp;L)</translation>
    </message>
    <message>
        <source>Rotate planes &amp;right</source>
        <translation>向右旋转平面(&amp;R)</translation>
    </message>
    <message>
        <source>Show &amp;overlays</source>
        <translation>显示叠加信息(&amp;O)</translation>
    </message>
    <message>
        <source>&amp;Navigate</source>
        <translation>浏览(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Length</source>
        <translation>长度(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Angle</source>
        <translation>角度(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Ellipse ROI</source>
        <translation>椭圆 ROI(&amp;E)</translation>
    </message>
    <message>
        <source>Rectan&amp;gle ROI</source>
        <translation>矩形 ROI(&amp;G)</translation>
    </message>
    <message>
        <source>&amp;Probe</source>
        <translation>探针(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Undo measurement</source>
        <translation>撤销测量(&amp;U)</translation>
    </message>
    <message>
        <source>&amp;Redo measurement</source>
        <translation>重做测量(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Delete measurement</source>
        <translation>删除测量(&amp;D)</translation>
    </message>
    <!-- Window presets, cine and measurement kinds (medview/view/mpr_actions.py, measure_actors.py). The measured values and the plane titles are drawn inside the VTK views without the CJK font and stay in English. -->
    <message>
        <source>Lung</source>
        <translation>肺</translation>
    </message>
    <message>
        <source>Mediastinum</source>
        <translation>纵隔</translation>
    </message>
    <message>
        <source>Bone</source>
        <translation>骨</translation>
    </message>
    <message>
        <source>Brain</source>
        <translation>脑</translation>
    </message>
    <message>
        <source>Abdomen</source>
        <translation>腹部</translation>
    </message>
    <message>
        <source>Liver</source>
        <translation>肝</translation>
    </message>
    <message>
        <source>&amp;Play/pause cine</source>
        <translation>播放/暂停电影回放(&amp;P)</translation>
    </message>
    <message>
        <source>Cine &amp;faster</source>
        <translation>电影回放加速(&amp;F)</translation>
    </message>
    <message>
        <source>Cine &amp;slower</source>
        <translation>电影回放减速(&amp;S)</translation>
    </message>
    <message>
        <source>Length</source>
        <translation>长度</translation>
    </message>
    <message>
        <source>Angle</source>
        <translation>角度</translation>
    </message>
    <message>
        <source>Ellipse</source>
        <translation>椭圆</translation>
    </message>
    <message>
        <source>Rectangle</source>
        <translation>矩形</translation>
    </message>
    <message>
        <source>Probe</source>
        <translation>探针</translation>
    </message>
</context>
<context>
    <name>QtAiPanel</name>
    <message>
        <source>Run a plugin</source>
        <translation>运行插件</translation>
    </message>
    <message>
        <source>Plugin</source>
        <translation>插件</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Run on this series</source>
        <translation>在此序列上运行</translation>
    </message>
    <message>
        <source>Jobs</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Findings</source>
        <translation>发现</translation>
    </message>
    <message>
        <source>Overlays and derived series</source>
        <translation>叠加图与派生序列</translation>
    </message>
    <message>
        <source>None</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Overlay</source>
        <translation>叠加图</translation>
    </message>
    <message>
        <source>Colour map</source>
        <translation>色表</translation>
    </message>
    <message>
        <source>Opacity</source>
        <translation>不透明度</translation>
    </message>
    <message>
        <source>Threshold</source>
        <translation>阈值</translation>
    </message>
    <message>
        <source>Open as a series</source>
        <translation>作为序列打开</translation>
    </message>
    <message>
        <source>Derived</source>
        <translation>派生</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Open a series first.</source>
        <translation>请先打开一个序列。</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>接受</translation>
    </message>
    <message>
        <source>Reject</source>
        <translation>拒绝</translation>
    </message>
    <message>
        <source>Undecided</source>
        <translation>待定</translation>
    </message>
    <message>
        <source>Research and decision support only: not for diagnostic use.</source>
        <translation>仅用于研究和决策支持：不得用于诊断。</translation>
    </message>
    <message>
        <source>Started {plugin}.</source>
        <translation>已启动 {plugin}。</translation>
    </message>
    <message>
        <source>{pending} to review, {accepted} accepted, {rejected} rejected</source>
        <translation>{pending} 个待审阅，{accepted} 个已接受，{rejected} 个已拒绝</translation>
    </message>
    <message>
        <source>{name} (unavailable)</source>
        <translation>{name}（不可用）</translation>
    </message>
    <message>
        <source>Unavailable: {reason}</source>
        <translation>不可用：{reason}</translation>
    </message>
    <message>
        <source>{plugin}: {count} finding(s) in {seconds:.1f} s on {device}.</source>
        <translation>{plugin}：{count} 个发现，用时 {seconds:.1f} 秒，设备 {device}。</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Score</source>
        <translation>分数</translation>
    </message>
    <message>
        <source>Size mm</source>
        <translation>大小 mm</translation>
    </message>
    <message>
        <source>Review</source>
        <translation>审阅</translation>
    </message>
    <message>
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>succeeded</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>pending</source>
        <translation>待审阅</translation>
    </message>
    <message>
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <source>rejected</source>
        <translation>已拒绝</translation>
    </message>
    <!-- Saliency display (medview/view/saliency_controls.py) and saving a derived series -->
    <message>
        <source>Show</source>
        <translation>显示</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Save as DICOM…</source>
        <translation>另存为 DICOM…</translation>
    </message>
    <message>
        <source>Positive only</source>
        <translation>仅正值</translation>
    </message>
    <message>
        <source>Absolute</source>
        <translation>绝对值</translation>
    </message>
    <message>
        <source>Signed</source>
        <translation>正负值</translation>
    </message>
    <message>
        <source>For signed maps (attributions): draw the positive part, the magnitude or both.</source>
        <translation>用于带符号的图（归因图）：显示正值部分、绝对值或正负两部分。</translation>
    </message>
    <message>
        <source>Explanation method: the selected finding's overlay follows this choice.</source>
        <translation>解释方法：所选发现的叠加图随此选项切换。</translation>
    </message>
    <message>
        <source>Grad-CAM</source>
        <translation>Grad-CAM</translation>
    </message>
    <message>
        <source>Integrated Gradients</source>
        <translation>积分梯度</translation>
    </message>
    <message>
        <source>SmoothGrad</source>
        <translation>SmoothGrad</translation>
    </message>
    <message>
        <source>Occlusion</source>
        <translation>遮挡</translation>
    </message>
    <!-- The disclaimer under the findings (issue 11) -->
    <message>
        <source>AI results are proposals for a qualified reader to review: not for diagnostic use.</source>
        <translation>AI 结果仅为供有资质的阅片医师审阅的建议：不得用于诊断。</translation>
    </message>
</context>
<context>
    <name>QtCompareView</name>
    <message>
        <source>Thin slices</source>
        <translation>薄层</translation>
    </message>
    <message>
        <source>Slab:</source>
        <translation>层块：</translation>
    </message>
    <message>
        <source>MIP</source>
        <translation>MIP</translation>
    </message>
    <message>
        <source>MinIP</source>
        <translation>MinIP</translation>
    </message>
    <message>
        <source>Average</source>
        <translation>平均</translation>
    </message>
    <message>
        <source>&amp;Compare original | enhanced</source>
        <translation>对比原始 | 增强(&amp;C)</translation>
    </message>
    <message>
        <source>Axial</source>
        <translation>轴位</translation>
    </message>
    <message>
        <source>Coronal</source>
        <translation>冠状位</translation>
    </message>
    <message>
        <source>Sagittal</source>
        <translation>矢状位</translation>
    </message>
    <message>
        <source>Plane:</source>
        <translation>平面：</translation>
    </message>
    <message>
        <source>Back to MPR (Esc)</source>
        <translation>返回 MPR (Esc)</translation>
    </message>
    <message>
        <source>Back to MPR</source>
        <translation>返回 MPR</translation>
    </message>
    <message>
        <source>Original</source>
        <translation>原始图像</translation>
    </message>
    <message>
        <source>AI-generated — not an original acquisition</source>
        <translation>AI 生成，并非原始采集</translation>
    </message>
</context>
<context>
    <!-- The report panel (issue 8, medview/view/report_panel.py) -->
    <name>QtReportPanel</name>
    <message>
        <source>Send to PACS…</source>
        <translation>发送到 PACS…</translation>
    </message>
    <message>
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <source>rejected</source>
        <translation>已拒绝</translation>
    </message>
    <message>
        <source>pending</source>
        <translation>待定</translation>
    </message>
    <message>
        <source>{accepted} accepted (reported), {rejected} rejected, {pending} pending</source>
        <translation>{accepted} 个已接受（写入报告），{rejected} 个已拒绝，{pending} 个待定</translation>
    </message>
    <message>
        <source>AI findings</source>
        <translation>AI 发现</translation>
    </message>
    <message>
        <source>Your measurements</source>
        <translation>您的测量</translation>
    </message>
    <message>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <source>Family^Given</source>
        <translation>姓^名</translation>
    </message>
    <message>
        <source>The reader who decides and signs (DICOM name: Family^Given)</source>
        <translation>作出判断并签名的阅片医师（DICOM 姓名格式：姓^名）</translation>
    </message>
    <message>
        <source>Reader</source>
        <translation>阅片医师</translation>
    </message>
    <message>
        <source>Findings in your words</source>
        <translation>用您自己的话描述所见</translation>
    </message>
    <message>
        <source>Impression</source>
        <translation>印象</translation>
    </message>
    <message>
        <source>Findings</source>
        <translation>所见</translation>
    </message>
    <message>
        <source>Sign and export</source>
        <translation>签名与导出</translation>
    </message>
    <message>
        <source>One map per accepted finding that an explanation plugin explained</source>
        <translation>每个经解释插件解释过的已接受发现各生成一幅参数图</translation>
    </message>
    <message>
        <source>Anonymise (DICOM PS3.15 Annex E)</source>
        <translation>匿名化（DICOM PS3.15 附录 E）</translation>
    </message>
    <message>
        <source>Finalise (sign)…</source>
        <translation>定稿（签名）…</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>{status}, edited</source>
        <translation>{status}，已修改</translation>
    </message>
    <message>
        <source>Finding</source>
        <translation>发现</translation>
    </message>
    <message>
        <source>Score</source>
        <translation>评分</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Decided by</source>
        <translation>判断人</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>接受</translation>
    </message>
    <message>
        <source>Reject</source>
        <translation>拒绝</translation>
    </message>
    <message>
        <source>Undecided</source>
        <translation>待定</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>类型</translation>
    </message>
    <message>
        <source>Label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>数值</translation>
    </message>
    <message>
        <source>Not signed: the SR is exported as UNVERIFIED.</source>
        <translation>未签名：SR 将以 UNVERIFIED（未验证）导出。</translation>
    </message>
    <message>
        <source>The report changed after it was signed; sign it again.</source>
        <translation>报告在签名后已更改；请重新签名。</translation>
    </message>
    <message>
        <source>Signed by {reader} at {time}: the SR is exported as VERIFIED.</source>
        <translation>由 {reader} 于 {time} 签名：SR 将以 VERIFIED（已验证）导出。</translation>
    </message>
    <message>
        <source>DICOM SR</source>
        <translation>DICOM SR</translation>
    </message>
    <message>
        <source>DICOM SEG</source>
        <translation>DICOM SEG</translation>
    </message>
    <message>
        <source>Parametric map</source>
        <translation>参数图</translation>
    </message>
    <message>
        <source>PDF</source>
        <translation>PDF</translation>
    </message>
    <message>
        <source>JSON</source>
        <translation>JSON</translation>
    </message>
</context>
<context>
    <name>DerivedExport</name>
    <!-- Saving an AI-derived series as DICOM (medview/app/derived_export.py) -->
    <message>
        <source>A derived series is being saved; wait until it is done.</source>
        <translation>正在保存派生序列；请等待其完成。</translation>
    </message>
    <message>
        <source>Saving the derived series to {folder}…</source>
        <translation>正在将派生序列保存到 {folder}…</translation>
    </message>
    <message>
        <source>Save the derived series in a new, empty folder</source>
        <translation>将派生序列保存到新的空文件夹</translation>
    </message>
    <message>
        <source>Saved the derived series ({count} images) to {folder}.</source>
        <translation>派生序列（{count} 幅图像）已保存到 {folder}。</translation>
    </message>
    <message>
        <source>Saved the derived series to {folder}; import it with File › Import folder… once the running import is done.</source>
        <translation>派生序列已保存到 {folder}；请在当前导入完成后通过“文件 › 导入文件夹…”导入。</translation>
    </message>
    <message>
        <source>Could not save the derived series: {reason}</source>
        <translation>无法保存派生序列：{reason}</translation>
    </message>
</context>
<context>
    <name>PacsWiring</name>
    <!-- PACS menu entries and pushes received (medview/app/pacs_wiring.py) -->
    <message>
        <source>Q&amp;uery PACS…</source>
        <translation>查询 PACS(&amp;U)…</translation>
    </message>
    <message>
        <source>Se&amp;nd to PACS…</source>
        <translation>发送到 PACS(&amp;N)…</translation>
    </message>
    <message>
        <source>&amp;PACS nodes…</source>
        <translation>PACS 节点(&amp;P)…</translation>
    </message>
    <message>
        <source>{peer} sent {count} new image(s); they are in the study browser.</source>
        <translation>{peer} 发送了 {count} 幅新图像；已在检查列表中。</translation>
    </message>
</context>
<context>
    <name>QtMeasurementPanel</name>
    <!-- The measurement list (medview/view/measurement_panel.py) -->
    <message>
        <source>Kind</source>
        <translation>类型</translation>
    </message>
    <message>
        <source>Label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>数值</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>重做</translation>
    </message>
</context>
<context>
    <name>QtPacsQueryDialog</name>
    <!-- File › Query PACS… (medview/view/pacs_query_dialog.py): query/retrieve -->
    <message>
        <source>Query PACS</source>
        <translation>查询 PACS</translation>
    </message>
    <message>
        <source>e.g. DOE* (wildcards * and ?)</source>
        <translation>例如 ZHANG*（可用通配符 * 和 ?）</translation>
    </message>
    <message>
        <source>&amp;Search</source>
        <translation>查询(&amp;S)</translation>
    </message>
    <message>
        <source>Node</source>
        <translation>节点</translation>
    </message>
    <message>
        <source>Patient name</source>
        <translation>患者姓名</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Accession</source>
        <translation>检查号</translation>
    </message>
    <message>
        <source>Study date</source>
        <translation>检查日期</translation>
    </message>
    <message>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>患者</translation>
    </message>
    <message>
        <source>Date</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像数</translation>
    </message>
    <message>
        <source>Retrieve</source>
        <translation>检索</translation>
    </message>
    <message>
        <source>&amp;Retrieve</source>
        <translation>检索(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Cancel retrieve</source>
        <translation>取消检索(&amp;C)</translation>
    </message>
    <message>
        <source>Choose a node and search.</source>
        <translation>请选择节点并查询。</translation>
    </message>
    <message>
        <source>Retrieve by</source>
        <translation>检索方式</translation>
    </message>
    <message>
        <source>any</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>No PACS node yet: add one in File › PACS nodes…</source>
        <translation>尚无 PACS 节点：请在“文件 › PACS 节点…”中添加。</translation>
    </message>
    <message>
        <source>Searching {node}…</source>
        <translation>正在查询 {node}…</translation>
    </message>
    <message>
        <source>Retrieving needs the study database.</source>
        <translation>检索需要检查数据库。</translation>
    </message>
    <message>
        <source>Select a study or series to retrieve.</source>
        <translation>请选择要检索的检查或序列。</translation>
    </message>
    <message>
        <source>Retrieving from {node} by {method}…</source>
        <translation>正在通过 {method} 从 {node} 检索…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <source>{count} studies found on {node}.</source>
        <translation>在 {node} 上找到 {count} 个检查。</translation>
    </message>
    <message>
        <source>{images} in {series} series</source>
        <translation>{images} 幅，{series} 个序列</translation>
    </message>
    <message>
        <source>complete ({n})</source>
        <translation>完成（{n}）</translation>
    </message>
    <message>
        <source>complete</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Retrieve cancelled: the series in progress was not imported; {done} series ({images} images) were retrieved before.</source>
        <translation>检索已取消：进行中的序列未导入；此前已检索 {done} 个序列（{images} 幅图像）。</translation>
    </message>
    <message>
        <source>({done} series retrieved before.)</source>
        <translation>（此前已检索 {done} 个序列。）</translation>
    </message>
    <message>
        <source>Retrieved {done} series ({images} images) in {seconds:.1f} s; they are in the study browser.</source>
        <translation>已检索 {done} 个序列（{images} 幅图像），用时 {seconds:.1f} 秒；已在检查列表中。</translation>
    </message>
</context>
<context>
    <name>QtPacsNodesDialog</name>
    <!-- File › PACS nodes… (medview/view/pacs_nodes_dialog.py) -->
    <message>
        <source>PACS nodes</source>
        <translation>PACS 节点</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>添加(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>删除(&amp;R)</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>（无）</translation>
    </message>
    <message>
        <source>None</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Basic (user + password)</source>
        <translation>基本认证（用户名 + 密码）</translation>
    </message>
    <message>
        <source>Bearer token</source>
        <translation>Bearer 令牌</translation>
    </message>
    <message>
        <source>Remember credentials in the settings file (readable only by you)</source>
        <translation>在设置文件中记住凭据（仅您本人可读）</translation>
    </message>
    <message>
        <source>Unticked, credentials are kept for this session only and forgotten on quit.</source>
        <translation>不勾选时，凭据仅在本次会话中保留，退出时即清除。</translation>
    </message>
    <message>
        <source>&amp;Test connection</source>
        <translation>测试连接(&amp;T)</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>PACS AE title</source>
        <translation>PACS AE Title</translation>
    </message>
    <message>
        <source>Host</source>
        <translation>主机</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>medview's AE title</source>
        <translation>medview 的 AE Title</translation>
    </message>
    <message>
        <source>Timeout</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>DICOMweb URL</source>
        <translation>DICOMweb 地址</translation>
    </message>
    <message>
        <source>Authentication</source>
        <translation>身份验证</translation>
    </message>
    <message>
        <source>Username</source>
        <translation>用户名</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>密码</translation>
    </message>
    <message>
        <source>Token</source>
        <translation>令牌</translation>
    </message>
    <message>
        <source>Remote nodes</source>
        <translation>远程节点</translation>
    </message>
    <message>
        <source>medview's Storage SCP (the C-MOVE destination)</source>
        <translation>medview 的存储 SCP（C-MOVE 目标）</translation>
    </message>
    <message>
        <source>AE title</source>
        <translation>AE Title</translation>
    </message>
    <message>
        <source>Not saved: {reason}</source>
        <translation>未保存：{reason}</translation>
    </message>
    <message>
        <source>Saved {count} node(s).</source>
        <translation>已保存 {count} 个节点。</translation>
    </message>
    <message>
        <source>Testing {node}…</source>
        <translation>正在测试 {node}…</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>启动</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Listening as {aet} on port {port}</source>
        <translation>正在以 {aet} 监听端口 {port}</translation>
    </message>
    <message>
        <source>Stopped (a C-MOVE starts it for its retrieve)</source>
        <translation>已停止（C-MOVE 检索时会自动启动）</translation>
    </message>
</context>
<context>
    <name>QtPacsSendDialog</name>
    <!-- File › Send to PACS… (medview/view/pacs_send_dialog.py) -->
    <message>
        <source>Send to PACS</source>
        <translation>发送到 PACS</translation>
    </message>
    <message>
        <source>A folder of DICOM files</source>
        <translation>DICOM 文件夹</translation>
    </message>
    <message>
        <source>The series on screen</source>
        <translation>当前显示的序列</translation>
    </message>
    <message>
        <source>e.g. an exported report folder</source>
        <translation>例如导出的报告文件夹</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
    <message>
        <source>&amp;Send</source>
        <translation>发送(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Cancel send</source>
        <translation>取消发送(&amp;C)</translation>
    </message>
    <message>
        <source>Node</source>
        <translation>节点</translation>
    </message>
    <message>
        <source>Send by</source>
        <translation>发送方式</translation>
    </message>
    <message>
        <source>(no series on screen)</source>
        <translation>（当前未显示序列）</translation>
    </message>
    <message>
        <source>No PACS node yet: add one in File › PACS nodes…</source>
        <translation>尚无 PACS 节点：请在“文件 › PACS 节点…”中添加。</translation>
    </message>
    <message>
        <source>There is no series on screen to send.</source>
        <translation>当前没有显示可发送的序列。</translation>
    </message>
    <message>
        <source>{folder}: not a folder; choose the folder to send.</source>
        <translation>{folder}：不是文件夹；请选择要发送的文件夹。</translation>
    </message>
    <message>
        <source>(empty)</source>
        <translation>（空）</translation>
    </message>
    <message>
        <source>Sending to {node}…</source>
        <translation>正在发送到 {node}…</translation>
    </message>
    <message>
        <source>Folder to send</source>
        <translation>要发送的文件夹</translation>
    </message>
    <message>
        <source>Sending to {node} was cancelled; the files sent before stay there.</source>
        <translation>向 {node} 的发送已取消；此前已发送的文件仍保留在该节点上。</translation>
    </message>
    <message>
        <source>Sent {sent} file(s) to {node}; {failed} failed, {skipped} non-DICOM skipped.</source>
        <translation>已向 {node} 发送 {sent} 个文件；{failed} 个失败，跳过 {skipped} 个非 DICOM 文件。</translation>
    </message>
    <message>
        <source>First failure: {file}: {reason}.</source>
        <translation>第一个失败：{file}：{reason}。</translation>
    </message>
</context>
<context>
    <name>QtAboutDialog</name>
    <!-- Help › About medview… (medview/app/about.py) -->
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About medview…</source>
        <translation>关于 medview(&amp;A)…</translation>
    </message>
    <message>
        <source>About medview</source>
        <translation>关于 medview</translation>
    </message>
    <message>
        <source>Radiology workstation with embedded AI. Research and decision support only: not a medical device, not for diagnostic use.</source>
        <translation>内置 AI 的放射影像工作站。仅用于研究和决策支持：不是医疗器械，不得用于诊断。</translation>
    </message>
    <message>
        <source>Copy diagnostics</source>
        <translation>复制系统诊断信息</translation>
    </message>
    <message>
        <source>Copy this text for a support ticket (versions and folders, no patient data)</source>
        <translation>复制此文本用于技术支持工单（版本和文件夹信息，不含患者数据）</translation>
    </message>
    <message>
        <source>Copied to the clipboard.</source>
        <translation>已复制到剪贴板。</translation>
    </message>
</context>
<context>
    <name>QtShortcutsDialog</name>
    <message>
        <source>&amp;Keyboard shortcuts…</source>
        <translation>键盘快捷键(&amp;K)…</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <source>Filter: a key or a word</source>
        <translation>筛选：按键或关键词</translation>
    </message>
    <message>
        <source>Keys</source>
        <translation>按键</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>操作</translation>
    </message>
    <message>
        <source>Id for [key_bindings]</source>
        <translation>[key_bindings] 中的标识</translation>
    </message>
    <message>
        <source>Change a key in settings.toml, e.g. [key_bindings] "tool.length" = "D" (medview paths shows where the file is); it applies at the next start.</source>
        <translation>在 settings.toml 中修改按键，例如 [key_bindings] "tool.length" = "D"（medview paths 显示该文件的位置）；下次启动时生效。</translation>
    </message>
    <message>
        <source>Wheel</source>
        <translation>滚轮</translation>
    </message>
    <message>
        <source>Scroll slices (the crosshair follows)</source>
        <translation>滚动切片（十字线跟随）</translation>
    </message>
    <message>
        <source>Left click</source>
        <translation>左键单击</translation>
    </message>
    <message>
        <source>Move the crosshair there</source>
        <translation>将十字线移到该处</translation>
    </message>
    <message>
        <source>Left drag</source>
        <translation>左键拖动</translation>
    </message>
    <message>
        <source>Window/level (or pan or zoom: View › Left drag)</source>
        <translation>窗宽/窗位（或平移、缩放：视图 › 左键拖动）</translation>
    </message>
    <message>
        <source>Left drag on a crosshair line</source>
        <translation>在十字线上左键拖动</translation>
    </message>
    <message>
        <source>Turn the other planes (oblique MPR)</source>
        <translation>旋转其他平面（斜位 MPR）</translation>
    </message>
    <message>
        <source>Middle drag</source>
        <translation>中键拖动</translation>
    </message>
    <message>
        <source>Pan</source>
        <translation>平移</translation>
    </message>
    <message>
        <source>Right drag, Ctrl+Wheel</source>
        <translation>右键拖动、Ctrl+滚轮</translation>
    </message>
    <message>
        <source>Zoom</source>
        <translation>缩放</translation>
    </message>
    <message>
        <source>Double-click</source>
        <translation>双击</translation>
    </message>
    <message>
        <source>Maximise the view; again to restore</source>
        <translation>最大化视图；再次双击恢复</translation>
    </message>
</context>
<context>
    <name>PriorWiring</name>
    <message>
        <source>The alignment is uncertain (correlation {similarity}): the two scans hardly match; do not rely on the link.</source>
        <translation>配准不可靠（相关系数 {similarity}）：两次扫描几乎不匹配，请勿依赖联动。</translation>
    </message>
    <message>
        <source>ALIGNMENT UNCERTAIN (the scans hardly match: correlation {similarity}): do not rely on the link</source>
        <translation>配准不可靠（扫描几乎不匹配：相关系数 {similarity}）：请勿依赖联动</translation>
    </message>
    <message>
        <source>Compare with the &amp;selected series</source>
        <translation>与所选序列对比(&amp;S)</translation>
    </message>
    <message>
        <source>Open a series first, then select the one to compare it with.</source>
        <translation>请先打开一个序列，再选择要与之对比的序列。</translation>
    </message>
    <message>
        <source>Select another series of the patient in the Studies dock (one click), then compare.</source>
        <translation>请在检查列表中单击选择该患者的另一个序列，然后对比。</translation>
    </message>
    <message>
        <source>Loading and aligning the series to compare…</source>
        <translation>正在加载并配准要对比的序列…</translation>
    </message>
    <message>
        <source>Aligned in {seconds} s. Linked by anatomy: check the match where you read.</source>
        <translation>配准用时 {seconds} 秒。已按解剖结构联动：请在阅片处核对对应关系。</translation>
    </message>
    <message>
        <source>Same frame of reference: linked by patient position.</source>
        <translation>同一参考坐标系：按患者位置联动。</translation>
    </message>
    <message>
        <source>Could not compare: {message}</source>
        <translation>无法对比：{message}</translation>
    </message>
    <message>
        <source>no date</source>
        <translation>无日期</translation>
    </message>
    <message>
        <source>On screen</source>
        <translation>当前显示</translation>
    </message>
    <message>
        <source>Compared</source>
        <translation>对比</translation>
    </message>
    <message>
        <source>Current</source>
        <translation>本次</translation>
    </message>
    <message>
        <source>Prior</source>
        <translation>既往</translation>
    </message>
    <message>
        <source>Follow-up</source>
        <translation>随访</translation>
    </message>
    <message>
        <source>aligned by anatomy (rigid: {shift} mm, {angle}°; a reading aid, not exact)</source>
        <translation>按解剖结构配准（刚性：{shift} mm，{angle}°；阅片辅助，并非精确）</translation>
    </message>
    <message>
        <source>same frame of reference</source>
        <translation>同一参考坐标系</translation>
    </message>
</context>
</TS>
