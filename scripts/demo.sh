#!/usr/bin/env bash
# The demo: one deployment, the Digital Transformation Day of Hải Dương province (26 March 2022),
# 20 guests, their QR codes and badge sheet, a gate bundle, and the gate's verdict on every code,
# read back from the PNG images. Everything lands in ./demo. Times are replayed with --now so the
# 2022 event can be run today.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=demo
DEMO_SERVICE_PID="$DEMO/service.pid"
if [ -f "$DEMO_SERVICE_PID" ]; then kill "$(cat "$DEMO_SERVICE_PID")" 2>/dev/null || true; fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
# A fresh random passphrase for the demo keys, kept in a 0600 file, never printed.
umask 077
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$DEMO/.passphrase"
umask 022
# Read from the file by every command (never in an environment variable /proc would show).
CHECKIN_KEY_PASSPHRASE_FILE="$PWD/$DEMO/.passphrase"
export CHECKIN_KEY_PASSPHRASE_FILE
CK="checkin --config $DEMO/config.toml"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Set up the deployment (config, keys folder, database)"
checkin init --dir "$DEMO" --deployment-id hd-stttt

step "2. Make the root key and the first issuing key (encrypted, mode 0600)"
$CK --now 2022-03-01T09:00 keys init
$CK keys list

step "3. Create the event"
$CK --now 2022-03-01T09:00 event create --id cds-hd-2022 \
  --name "Ngày Chuyển đổi số tỉnh Hải Dương 2022" --venue "Trung tâm Văn hóa Xứ Đông" \
  --start 2022-03-26T07:30 --end 2022-03-26T17:30 --zones hall,vip,press

step "4. Issue 20 tickets from the guest list: PNGs, badge sheet, index"
$CK --now 2022-03-20T09:00 issue --event cds-hd-2022 --csv examples/guests.csv --out "$DEMO/codes"

step "5. One guest lost her badge: revoke it"
lost=$(python3 -c 'import csv,sys; rows=list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig"))); print(next(r["credential_id"] for r in rows if r["name"]=="Cao Thị Thảo"))' "$DEMO/codes/index.csv")
$CK --now 2022-03-24T15:00 revoke "$lost" --reason "badge reported lost"

step "6. Export the gate bundle on the morning of the event"
mkdir -p "$DEMO/gate"
$CK --now 2022-03-26T06:00 bundle export --event cds-hd-2022 --out "$DEMO/gate/cds-hd-2022.ckb"

step "7. The hall gate checks every badge, read back from the PNG images (offline, public keys only)"
checkin-gate verify --bundle "$DEMO/gate/cds-hd-2022.ckb" --root-key "$DEMO/gate/root.pub" \
  --at 2022-03-26T08:30 --zone hall "$DEMO"/codes/*.png > "$DEMO/gate/hall.jsonl"
python3 scripts/verdicts.py < "$DEMO/gate/hall.jsonl"

step "8. The VIP gate: press badges are turned away, a forged code is caught"
press_png=$(ls "$DEMO"/codes/*le-thi-cam-tu*.png)
vip_png=$(ls "$DEMO"/codes/*tran-van-binh*.png)
good=$(python3 -c 'import csv,sys; print(next(r["code"] for r in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")) if r["name"]=="Trần Văn Bình"))' "$DEMO/codes/index.csv")
forged="${good:0:60}$( [ "${good:60:1}" = A ] && echo B || echo A )${good:61}"
printf '%s\n' "$forged" | checkin-gate verify --bundle "$DEMO/gate/cds-hd-2022.ckb" \
  --root-key "$DEMO/gate/root.pub" --at 2022-03-26T09:10 --zone vip "$vip_png" "$press_png" - \
  | python3 scripts/verdicts.py

# ---- the service and a gate on the network ---------------------------------------------------
# The service replays the event morning too: its clock starts at 08:20 on 26 March 2022 and runs on.
if [ -f "$DEMO_SERVICE_PID" ]; then kill "$(cat "$DEMO_SERVICE_PID")" 2>/dev/null || true; fi
START_REAL=$(date +%s)
event_time() {  # the replayed time now: 08:20 plus the seconds the demo has run since
  python3 -c 'import sys,time; from datetime import datetime, timedelta; print((datetime.fromisoformat("2022-03-26T08:20:00+07:00") + timedelta(seconds=time.time() - int(sys.argv[1]))).isoformat(timespec="seconds"))' "$START_REAL"
}
PORT=${DEMO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
URL="http://127.0.0.1:$PORT"

step "9. An administrator account, with a freshly generated password"
ADMIN_PASSWORD=$($CK user add admin --role admin --generate | tail -n 1)
(umask 077 && printf '%s\n' "$ADMIN_PASSWORD" > "$DEMO/.admin-password")

step "10. Register the main gate; the service gives a one-time enrolment code (15 minutes)"
GATE_CODE=$($CK --now "$(event_time)" gate add --event cds-hd-2022 --name "Cổng chính - sảnh" --zone hall --direction in | tail -n 1)

step "11. Start the service on $URL (gunicorn; log in $DEMO/service.log)"
nohup $CK --now "$(event_time)" serve --port "$PORT" > "$DEMO/service.log" 2>&1 &
echo $! > "$DEMO_SERVICE_PID"
for _ in $(seq 60); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/api/v1/openapi.json", timeout=1)' "$URL" 2>/dev/null && break
  sleep 0.5
done

step "12. The gate laptop enrols over the network with the code (it pins the root key)"
GATE="checkin-gate --data $DEMO/gate-data"
$GATE enroll --server "$URL" --code "$GATE_CODE"

step "13. Film the arrivals: badges, phones, two at once, a forged and a revoked code"
python3 scripts/demo_video.py "$DEMO/codes/index.csv" "$DEMO/gate/arrivals.avi"

step "14. The gate reads the video headless: decode, verify offline, journal, verdict"
$GATE run --video "$DEMO/gate/arrivals.avi" --headless --no-sync --now "$(event_time)" > "$DEMO/gate/arrivals.jsonl"
python3 scripts/verdicts.py < "$DEMO/gate/arrivals.jsonl"
$GATE journal verify

step "15. The network is back: the gate uploads its journal; the service holds the entries"
$GATE sync --now "$(event_time)"
$CK gate list --event cds-hd-2022

step "Done"
echo "codes and badges.pdf: $DEMO/codes/   gate bundle: $DEMO/gate/   key passphrase: $DEMO/.passphrase"
echo
echo "The service is running: $URL/  (log in as admin, password: $ADMIN_PASSWORD)"
echo "The event page shows the gate's entries. Stop the service with: kill \$(cat $DEMO_SERVICE_PID)"
