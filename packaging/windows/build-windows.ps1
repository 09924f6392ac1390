# Build dist\medview (PyInstaller) and the Inno Setup installer on Windows (not run here).
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build-windows.ps1
# Needs Python 3.11 (x64) and Inno Setup 6 (iscc.exe on PATH).
$ErrorActionPreference = "Stop"
$Root = Resolve-Path "$PSScriptRoot\..\.."
Set-Location $Root
if (-not (Test-Path .venv)) { py -3.11 -m venv .venv }
$Py = "$Root\.venv\Scripts\python.exe"
& $Py -m pip install --upgrade pip
& $Py -m pip install torch --index-url https://download.pytorch.org/whl/cpu   # or a CUDA wheel
& $Py -m pip install -e . "pyinstaller>=6"
$Stage = "$Root\build\stage"
if (Test-Path $Stage) { Remove-Item -Recurse -Force $Stage }
New-Item -ItemType Directory $Stage | Out-Null
Copy-Item -Recurse medview "$Stage\medview"
Copy-Item -Recurse plugins "$Stage\medview_plugins"
& $Py packaging\collect_licenses.py "$Stage\licenses"
$env:MEDVIEW_STAGE = $Stage
& $Py -m PyInstaller --noconfirm --clean --workpath build\pyinstaller --distpath dist packaging\medview.spec
& $Py packaging\bundle_size.py dist\medview
& dist\medview\medview.exe self-test --gui
if ($LASTEXITCODE -ne 0) { throw "self-test failed" }
$Version = & $Py -c "import medview; print(medview.__version__)"
iscc /DAppVersion=$Version packaging\windows\medview.iss
