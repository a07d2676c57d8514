# Sourced by scripts/cross-check and scripts/windows-e2e (after setting the array
# cross_extra_packages to the Debian packages they need besides Rust): installs what building for Windows and
# macOS on Debian needs, and sets up Debian's Rust (rustc-web, with the standard library's
# source) so that `-Zbuild-std` can build std for targets rustup cannot add here.
#
# After sourcing: `cross_cargo ARGS...` runs that cargo with RUSTC_BOOTSTRAP=1 and
# CARGO_TARGET_DIR=$CROSS_TARGET_DIR (default target/cross, kept between runs so the std build
# and the dependencies are reused; a repeated run takes seconds).

cross_packages=(rustc-web cargo-web rust-web-src rust-web-clippy "${cross_extra_packages[@]}")

cross_install() {
  local missing=() p
  for p in "${cross_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

cross_install

# Debian's cargo and rustc live in /usr/bin; with rustup around, they are reached as a linked
# toolchain (`cargo +debian`), else directly.
if command -v rustup >/dev/null 2>&1; then
  if ! rustup toolchain list | grep -q '^debian'; then
    rustup toolchain link debian /usr
  fi
  cross_cargo_cmd=(cargo +debian)
else
  cross_cargo_cmd=(/usr/bin/cargo)
fi

export RUSTC_BOOTSTRAP=1
# No debug info in these builds (std included): nobody debugs them here, and DWARF is much of
# the compile and link time of a debug build.
export CARGO_PROFILE_DEV_DEBUG=0
# Nothing is rebuilt piecemeal here: incremental caches would only take disk.
export CARGO_INCREMENTAL=0
export CARGO_TARGET_DIR="${CROSS_TARGET_DIR:-$PWD/target/cross}"
cross_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cross_cargo() {
  nice "${cross_cargo_cmd[@]}" "$@"
}

# For a check-only run of TARGET: aws-lc-sys compiles C even for `cargo check`, and nothing is
# linked, so stand-ins that write empty outputs take the place of the cross C compiler and
# archiver (no cmake, no nasm).
cross_check_only_env() {
  local var
  var="$(echo "$1" | tr '-' '_')"
  export "CC_${var}=${cross_dir}/stand-in-cc" "AR_${var}=${cross_dir}/stand-in-ar"
  export AWS_LC_SYS_CMAKE_BUILDER=0 AWS_LC_SYS_PREBUILT_NASM=1
}

# Runs a step and prints how long it took: wall clock and CPU (the machine may be shared).
cross_timed() {
  local label="$1"
  shift
  local TIMEFORMAT="== ${label}: %0R s wall, %0U s user + %0S s system CPU"
  time "$@"
}
