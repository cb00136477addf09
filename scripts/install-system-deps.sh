#!/usr/bin/env bash
# System packages reportgen needs: a CJK font (Chinese in the PDF and figures) and Pango
# (WeasyPrint). Installs them with apt-get when run as root; otherwise says what to install.
# Idempotent: does nothing when everything is present.
set -euo pipefail

missing=()
fc-list 2>/dev/null | grep -qi "WenQuanYi Zen Hei" || missing+=(fonts-wqy-zenhei)
ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v fc-list >/dev/null || missing+=(fontconfig)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
  fc-cache -f >/dev/null 2>&1 || true
else
  echo "reportgen needs these Debian/Ubuntu packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  echo "(or set REPORTGEN_CJK_FONT=/path/to/a/CJK/font.ttc for the font)" >&2
  exit 1
fi
