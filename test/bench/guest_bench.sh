# What the guest benchmarks (net_guest_bench.sh, usb_guest_bench.sh) share,
# sourced by them: their arguments, one x86_64 guest run of their plan that
# must finish, and awk's median of the runs.

# guest_bench_arguments TOOL ARGS...: sets plan, bindir, cache, work and
# timeout_s from --plan, --bindir, --cache, --work and --timeout (plan and
# timeout_s keep the caller's defaults when not given).
guest_bench_arguments() {
  local tool=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --plan) plan=$2 ;; --bindir) bindir=$2 ;; --cache) cache=$2 ;; --work) work=$2 ;;
      --timeout) timeout_s=$2 ;;
      *) echo "$tool: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift 2
  done
}

# guest_bench_require PROGRAM...: fails unless each is in $bindir.
guest_bench_require() {
  local program
  for program in "$@"; do
    [ -x "$bindir/$program" ] || { echo "FAIL: no $program in $bindir"; exit 1; }
  done
}

# guest_bench_run MACHINE NAME TAG: boots the x86_64 guest MACHINE once with
# $plan, prints the host, and fails unless the guest passed and its log has
# "TAG: done". Sets log (the guest's serial log).
guest_bench_run() {
  local machine=$1 name=$2 tag=$3 status=0
  "$here/../guest/run-guest.sh" --arch x86_64 --machine "$machine" --plan "$plan" --bindir "$bindir" \
    --cache "$cache" --work "$work" --name "$name" --timeout "$timeout_s" || status=$?
  log=$work/$name/serial.log
  echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1)"
  [ $status -eq 0 ] || { grep -a "$tag:" "$log" | tr -d '\r'; echo "FAIL: the guest run failed (exit $status); log: $log"; exit 1; }
  grep -aq "$tag: done" "$log" || { echo "FAIL: $tag did not finish; log: $log"; exit 1; }
}

# awk's median(LIST): the median of the numbers in a space-separated list;
# put before a program's own text (awk "$guest_bench_median_awk"'...').
guest_bench_median_awk='
  function median(list,   n, values, i, j, t) {
    n = split(list, values, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
      if (values[j] + 0 < values[i] + 0) { t = values[i]; values[i] = values[j]; values[j] = t }
    return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
  }'
