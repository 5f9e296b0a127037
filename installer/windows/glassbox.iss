; Inno Setup script for the Windows installer of Glassbox (installer/windows/build.bat runs it).
; UNTESTED: written beside the Linux bundle and never run on Windows.
; Installs per user by default (no administrator rights), or for all users when asked;
; .keras and .h5 files get "Open with Glassbox"; the uninstaller removes all of it.
#define AppVersion GetEnv("GLASSBOX_VERSION")

[Setup]
AppId={{5B0C3D7E-2F4A-4C39-9B8E-6A1D0E7F4C21}
AppName=Glassbox
AppVersion={#AppVersion}
AppPublisher=Glassbox
DefaultDirName={autopf}\Glassbox
DefaultGroupName=Glassbox
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
OutputDir=..\..\dist
OutputBaseFilename=glassbox-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\glassbox.exe

[Files]
Source: "..\..\dist\glassbox\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Glassbox"; Filename: "{app}\glassbox.exe"
Name: "{group}\Uninstall Glassbox"; Filename: "{uninstallexe}"

[Registry]
Root: HKA; Subkey: "Software\Classes\Glassbox.Model"; ValueType: string; ValueName: ""; ValueData: "Keras model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Glassbox.Model\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\glassbox.exe,0"
Root: HKA; Subkey: "Software\Classes\Glassbox.Model\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\glassbox.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.keras\OpenWithProgids"; ValueType: string; ValueName: "Glassbox.Model"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.h5\OpenWithProgids"; ValueType: string; ValueName: "Glassbox.Model"; ValueData: ""; Flags: uninsdeletevalue

[Run]
Filename: "{app}\glassbox.exe"; Description: "Start Glassbox"; Flags: nowait postinstall skipifsilent
