@echo off
rem Build the Glassbox bundle and its installer on Windows.
rem UNTESTED: written beside the Linux build (installer/build.sh) and never run on Windows.
rem Needs Python 3.11 (py launcher) and, for the installer, Inno Setup 6 (iscc on PATH).
rem Makes dist\glassbox\ (the one-folder app) and dist\glassbox-VERSION-setup.exe.
setlocal
cd /d "%~dp0\..\.."
if not exist build\venv\Scripts\python.exe py -3.11 -m venv build\venv || exit /b 1
build\venv\Scripts\python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['bundle']))" > build\requirements.txt || exit /b 1
build\venv\Scripts\python -m pip install --quiet -r build\requirements.txt || exit /b 1
for /f %%v in ('build\venv\Scripts\python -c "import ast; m = ast.parse(open('engine/__init__.py').read()); print(next(n.value.value for n in m.body if isinstance(n, ast.Assign) and n.targets[0].id == '__version__'))"') do set GLASSBOX_VERSION=%%v
build\venv\Scripts\python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller installer\glassbox.spec || exit /b 1
where iscc >nul 2>nul || (echo Inno Setup's iscc not found: dist\glassbox\glassbox.exe runs as it is & exit /b 0)
iscc installer\windows\glassbox.iss || exit /b 1
