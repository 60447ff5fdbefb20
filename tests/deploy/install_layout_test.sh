#!/usr/bin/env bash
# deploy/install.sh --destdir: binaries in /usr/bin, units in /lib/systemd/system, configs in
# /etc/asbhub (private to root and the asbhub group), fresh keys private, /var/lib/asbhub; a
# second run keeps an operator's edited config; --multi-host adds the drop-ins.
#   install_layout_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1" build="$2"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
failed=0
check() {  # DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@"; then echo "ok     $what"; else echo "FAILED $what"; failed=$((failed + 1)); fi
}
mode() { stat -c %a "$1"; }
bash "$src/deploy/install.sh" --build "$build" --destdir "$dest" >/dev/null
for d in intake sharing notify audit; do
  check "/usr/bin/asb-$d" test -x "$dest/usr/bin/asb-$d"
  check "unit asb-$d.service" test -f "$dest/lib/systemd/system/asb-$d.service"
  check "/etc/asbhub/$d.yaml 0640" test "$(mode "$dest/etc/asbhub/$d.yaml")" = 640
  check "$d's key private" test "$(mode "$dest/etc/asbhub/keys/$d.key")" = 600
  check "$d's at-rest key" test -f "$dest/etc/asbhub/keys/at-rest-$d.1.key"
  check "$d.yaml validates" "$dest/usr/bin/asb-$d" --config "$dest/etc/asbhub/$d.yaml" --validate
done
check "/usr/bin/asbctl" test -x "$dest/usr/bin/asbctl"
check "asbhub.target" test -f "$dest/lib/systemd/system/asbhub.target"
check "/etc/asbhub 0750" test "$(mode "$dest/etc/asbhub")" = 750
check "/var/lib/asbhub" test -d "$dest/var/lib/asbhub"
echo "# edited" >>"$dest/etc/asbhub/notify.yaml"
bash "$src/deploy/install.sh" --build "$build" --destdir "$dest" --multi-host >/dev/null
check "an edited config is kept" grep -q "# edited" "$dest/etc/asbhub/notify.yaml"
check "multi-host drop-in" test -f "$dest/etc/systemd/system/asb-sharing.service.d/multi-host.conf"
check "hosts.env" test -f "$dest/etc/asbhub/hosts.env"
[ "$failed" -eq 0 ] && echo "install layout: all checks passed" || echo "$failed checks failed"
[ "$failed" -eq 0 ]
