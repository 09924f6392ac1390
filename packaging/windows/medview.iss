; Inno Setup 6 script: dist\medview (PyInstaller one-folder, built on Windows with
; packaging\windows\build-windows.ps1) -> dist\medview-<version>-setup.exe
; Not run here (no Windows in this project's CI yet); see packaging/README.md.
; Per-user install by default (no admin rights: clinic PCs are often locked down);
; an administrator can choose "all users" in the dialog.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6C1E7F3A-4B1D-4E8B-9C57-0D7A1D2E5B10}
AppName=medview
AppVersion={#AppVersion}
AppPublisher=medview developers
AppComments=Radiology workstation with embedded AI. Research use only, not for diagnosis.
DefaultDirName={autopf}\medview
DefaultGroupName=medview
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=medview-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
; LicenseFile=..\..\LICENSE  -- the repository has no LICENSE file yet (pyproject says Apache-2.0); add it, then enable this line
InfoBeforeFile=..\..\dist\medview\_internal\licenses\THIRD-PARTY.txt
WizardStyle=modern
UninstallDisplayIcon={app}\medview.exe
; Sign with the clinic-trusted code-signing certificate (SignTool configured in the IDE/CI):
; SignTool=signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 $f

[Files]
Source: "..\..\dist\medview\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\medview"; Filename: "{app}\medview.exe"; Parameters: "gui"
Name: "{group}\medview self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\medview.exe"" self-test"
Name: "{group}\Uninstall medview"; Filename: "{uninstallexe}"

[Run]
; Clinic IT: the self-test runs from the last page (optional), offline.
Filename: "{cmd}"; Parameters: "/k ""{app}\medview.exe"" self-test"; Description: "Run the medview self-test"; Flags: postinstall skipifsilent unchecked
