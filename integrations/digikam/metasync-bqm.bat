@echo off
rem digiKam Batch Queue Manager "Custom Script" step for Windows: apply metasync's suggestions for %INPUT%,
rem then copy the file to %OUTPUT% as BQM requires. Needs curl (Windows 10+) and Python 3 on PATH.
setlocal
if "%METASYNC_URL%"=="" set METASYNC_URL=http://127.0.0.1:8765
if "%METASYNC_MIN_CONFIDENCE%"=="" set METASYNC_MIN_CONFIDENCE=0.9
rem Custom Script line: metasync-bqm.bat $INPUT $OUTPUT (digiKam adds the double quotes itself; %~1 strips them).
if not "%~2"=="" (set "INPUT=%~1" & set "OUTPUT=%~2")
if "%INPUT%"=="" (echo metasync: usage: metasync-bqm.bat $INPUT $OUTPUT 1>&2 & exit /b 1)
python -c "import json,os,sys,urllib.parse,urllib.request as u;t=os.environ.get('METASYNC_TOKEN') or open(os.path.join(os.environ['APPDATA'],'metasync','token')).read().strip();h={'X-Metasync-Token':t,'Content-Type':'application/json'};b=os.environ['METASYNC_URL'];q=urllib.parse.quote(os.environ['INPUT']);g=json.load(u.urlopen(u.Request(b+'/api/metadata-sync/suggestions?path='+q,headers=h),timeout=25));g=g.get('suggestions',g) if isinstance(g,dict) else g;[u.urlopen(u.Request(b+'/api/metadata-sync/groups/%%d/apply'%%x['id'],data=json.dumps({'min_confidence':float(os.environ['METASYNC_MIN_CONFIDENCE']),'host':'digikam'}).encode(),headers=h),timeout=25) for x in g]"
if errorlevel 1 (echo metasync: the bridge is not reachable or refused the request 1>&2 & exit /b 1)
copy /y "%INPUT%" "%OUTPUT%" >nul || exit /b 1
