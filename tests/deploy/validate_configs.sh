#!/usr/bin/env bash
# Every shipped config passes --validate, every shipped ISP `asbctl policy check`, and every
# shipped ISP test suite `asbctl policy test`: config/*.yaml, config/examples/*/*.yaml,
# deploy/config/*.yaml, deploy/multi-host/*.yaml, config/isp/*.yaml. Files are found when the test runs, so a new one
# is covered without touching this script.
#   validate_configs.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src="$1" build="$2"
cd "$src" || exit 1
failed=0 checked=0
run() {  # FILE COMMAND...
  local file="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then
    echo "ok     $file"
  else
    echo "FAILED $file: $out"
    failed=$((failed + 1))
  fi
  checked=$((checked + 1))
}
for f in config/*.yaml config/examples/*/*.yaml deploy/config/*.yaml deploy/multi-host/*.yaml; do
  [ -e "$f" ] || continue
  name="$(basename "$f" .yaml)"
  case "$name" in
    intake|sharing|notify|audit)
      run "$f" "$build/services/$name/asb-$name" --config "$f" --validate ;;
    asbctl*|partner*)
      ;;  # client configs (no daemon): client_configs_test loads them as ClientConfig
    *)
      echo "FAILED $f: not a daemon's config (intake, sharing, notify, audit) nor a client's (asbctl*, partner*)"
      failed=$((failed + 1))
      checked=$((checked + 1)) ;;
  esac
done
for f in config/isp/*.yaml; do
  case "$f" in
    *.test.yaml) run "$f" "$build/tools/asbctl/asbctl" policy test "$f" ;;
    *) run "$f" "$build/tools/asbctl/asbctl" policy check "$f" ;;
  esac
done
echo "$((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
