#!/usr/bin/env bash
# deploy/systemd: `systemd-analyze verify` passes on every unit and `systemd-analyze security`
# (offline: no running systemd needed) rates each service 2.0 or lower. The units are checked
# as installed, except that ExecStart points at this build's binaries (verify wants them to
# exist).
#   systemd_units_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1" build="$2"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$src"/deploy/systemd/*.service "$src"/deploy/systemd/*.target "$tmp/"
for d in intake sharing notify audit; do
  sed -i "s#/usr/bin/asb-$d #$build/services/$d/asb-$d #" "$tmp/asb-$d.service"
done
failed=0
cd "$tmp"
for unit in asb-intake.service asb-sharing.service asb-notify.service asb-audit.service \
            asbhub.target; do
  if out="$(systemd-analyze verify "./$unit" 2>&1)" && [ -z "$out" ]; then
    echo "verify   ok  $unit"
  else
    echo "verify   FAILED $unit: $out"
    failed=$((failed + 1))
  fi
done
for unit in asb-*.service; do
  # --threshold=20: exit non-zero above an exposure of 2.0.
  if line="$(systemd-analyze security --offline=true --threshold=20 "./$unit" 2>&1 | tail -n 1)"; then
    echo "security ok  $line"
  else
    echo "security FAILED $line"
    failed=$((failed + 1))
  fi
done
echo "$((9 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
