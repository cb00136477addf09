#!/usr/bin/env bash
# System packages reportgen needs: a CJK font (Chinese in the PDF and figures), Pango
# (WeasyPrint) and Chromium (the headless-browser test of report.html, tests/test_browser.py).
# Installs them with apt-get when run as root; otherwise says what to install.
# Idempotent: does nothing when everything is present.
set -euo pipefail

missing=()
fc-list 2>/dev/null | grep -qi "WenQuanYi Zen Hei" || missing+=(fonts-wqy-zenhei)
ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v fc-list >/dev/null || missing+=(fontconfig)
# Chromium only runs tests/test_browser.py (skipped without it), so it never fails set-up.
# Any build on PATH will do: the names that test looks for.
optional=()
for browser in chromium chromium-browser google-chrome google-chrome-stable; do
  command -v "$browser" >/dev/null && break
done || optional+=(chromium)

if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    }
    fc-cache -f >/dev/null 2>&1 || true
  fi
  if [ ${#optional[@]} -gt 0 ]; then
    echo "installing system packages: ${optional[*]} (for tests/test_browser.py)"
    apt-get install -y -q --no-install-recommends "${optional[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null 2>&1
      apt-get install -y -q --no-install-recommends "${optional[@]}" >/dev/null 2>&1
    } || echo "could not install ${optional[*]} (on Ubuntu it is a snap): tests/test_browser.py" \
              "will be skipped until a Chromium is on PATH" >&2
  fi
else
  if [ ${#optional[@]} -gt 0 ]; then
    echo "tests/test_browser.py needs Chromium (skipped without it): sudo apt-get install ${optional[*]}" >&2
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "reportgen needs these Debian/Ubuntu packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    echo "(or set REPORTGEN_CJK_FONT=/path/to/a/CJK/font.ttc for the font)" >&2
    exit 1
  fi
fi
