#!/usr/bin/env bash
# The demo: one deployment, the Digital Transformation Day of Hải Dương province (26 March 2022),
# 20 guests, their QR codes and badge sheet, a gate bundle, and the gate's verdict on every code,
# read back from the PNG images. Everything lands in ./demo. Times are replayed with --now so the
# 2022 event can be run today.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
# A fresh random passphrase for the demo keys, kept in a 0600 file, never printed.
umask 077
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$DEMO/.passphrase"
umask 022
CHECKIN_KEY_PASSPHRASE="$(cat "$DEMO/.passphrase")"
export CHECKIN_KEY_PASSPHRASE
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

step "Done"
echo "codes and badges.pdf: $DEMO/codes/   gate bundle: $DEMO/gate/   key passphrase: $DEMO/.passphrase"
