#!/usr/bin/env bash
# udrv's enumeration against lspci on the same sysfs tree (a recorded one, or
# the live /sys read-only): slots, IDs, class, revision, BARs, expansion ROM,
# interrupt pin and IRQ, NUMA node, IOMMU group, driver, parent bridge, and
# the capability lists with the MSI, MSI-X, PCIe, PM and VirtIO decodings.
# lspci's text is turned into pci_enum_dump's one-fact-per-line form and the
# two are diffed. Reads only: attribute files and config space.
# Usage: pci_enum_vs_lspci.sh PCI_ENUM_DUMP SYSFS_ROOT
set -euo pipefail
dump=$1
root=$(cd "$2" && pwd)
command -v lspci >/dev/null || { echo "FAIL: lspci (pciutils) is not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lspci_args=(-A linux-sysfs -O "sysfs.path=$root/bus/pci" -D -n)
lspci "${lspci_args[@]}" -vv > "$work/lspci.txt" 2> "$work/lspci.err" \
  || { cat "$work/lspci.err"; echo "FAIL: lspci cannot read $root/bus/pci"; exit 1; }
lspci "${lspci_args[@]}" -PP > "$work/lspci-paths.txt" 2>/dev/null
[ -s "$work/lspci.txt" ] || { echo "FAIL: lspci found no PCI functions under $root"; exit 1; }

"$dump" "$root" > "$work/udrv.raw" || { echo "FAIL: $dump $root failed"; exit 1; }
# Virtual Channel has two IDs (0x0002, 0x0009) and one name in lspci.
sed 's/^\([^ ]* ecap [0-9a-f]*\) 0009 /\1 0002 /' "$work/udrv.raw" | sort > "$work/udrv.txt"

awk '
function strip0(hex) { sub(/^0+/, "", hex); return hex == "" ? "0" : hex }
function hexpad(text, width,   n) { n = sprintf("%s", text); sub(/^0x/, "", n); while (length(n) < width) n = "0" n; return n }
function emit(fact) { print addr " " fact }
function region_address(text) { return (text ~ /^</) ? "0" : strip0(text) }
function size_of(line) { return match(line, /\[size=[^]]*\]/) ? substr(line, RSTART + 6, RLENGTH - 7) : "-" }
function std_cap_id(d) {
  if (d ~ /^Null/) return "00";                       if (d ~ /^Power Management version/) return "01"
  if (d ~ /^AGP version/) return "02";                if (d ~ /^Vital Product Data/) return "03"
  if (d ~ /^Slot ID/) return "04";                    if (d ~ /^MSI:/) return "05"
  if (d ~ /^CompactPCI hot-swap/) return "06";        if (d ~ /^PCI-X/) return "07"
  if (d ~ /^HyperTransport/) return "08";             if (d ~ /^Vendor Specific Information/) return "09"
  if (d ~ /^Debug port/) return "0a";                 if (d ~ /^CompactPCI central resource/) return "0b"
  if (d ~ /^Hot-plug capable/) return "0c";           if (d ~ /^Subsystem:/) return "0d"
  if (d ~ /^AGP3/) return "0e";                       if (d ~ /^Secure device/) return "0f"
  if (d ~ /^Express/) return "10";                    if (d ~ /^MSI-X:/) return "11"
  if (d ~ /^SATA HBA/) return "12";                   if (d ~ /^PCI Advanced Features/) return "13"
  if (d ~ /^Enhanced Allocation/) return "14"
  if (d ~ /^Capability ID 0x/) { split(d, w, " "); return hexpad(w[3], 2) }
  return "unknown(" d ")"
}
function ext_cap_id(d) {
  if (d ~ /^Null/) return "0000";                              if (d ~ /^Advanced Error Reporting/) return "0001"
  if (d ~ /^Virtual Channel/) return "0002";                   if (d ~ /^Device Serial Number/) return "0003"
  if (d ~ /^Power Budgeting/) return "0004";                   if (d ~ /^Root Complex Link/) return "0005"
  if (d ~ /^Root Complex Internal Link/) return "0006"
  if (d ~ /^Root Complex Event Collector Endpoint Association/) return "0007"
  if (d ~ /^Multi-Function Virtual Channel/) return "0008";    if (d ~ /^Root Complex Register Block/) return "000a"
  if (d ~ /^Vendor Specific Information/) return "000b";       if (d ~ /^Access Control Services/) return "000d"
  if (d ~ /^Alternative Routing-ID/) return "000e";            if (d ~ /^Address Translation Service/) return "000f"
  if (d ~ /^Single Root I\/O Virtualization/) return "0010";   if (d ~ /^Multi-Root I\/O Virtualization/) return "0011"
  if (d ~ /^Multicast/) return "0012";                         if (d ~ /^Page Request Interface/) return "0013"
  if (d ~ /^Physical Resizable BAR/) return "0015";            if (d ~ /^Dynamic Power Allocation/) return "0016"
  if (d ~ /^Transaction Processing Hints/) return "0017";      if (d ~ /^Latency Tolerance Reporting/) return "0018"
  if (d ~ /^Secondary PCI Express/) return "0019";             if (d ~ /^Protocol Multiplexing/) return "001a"
  if (d ~ /^Process Address Space ID/) return "001b";          if (d ~ /^LN Requester/) return "001c"
  if (d ~ /^Downstream Port Containment/) return "001d";       if (d ~ /^L1 PM Substates/) return "001e"
  if (d ~ /^Precision Time Measurement/) return "001f";        if (d ~ /^PCI Express over M_PHY/) return "0020"
  if (d ~ /^FRS Queueing/) return "0021";                      if (d ~ /^Readiness Time Reporting/) return "0022"
  if (d ~ /^Designated Vendor-Specific/) return "0023";        if (d ~ /^Virtual Resizable BAR/) return "0024"
  if (d ~ /^Data Link Feature/) return "0025";                 if (d ~ /^Physical Layer 16.0 GT\/s/) return "0026"
  if (d ~ /^Lane Margining at the Receiver/) return "0027";    if (d ~ /^Hierarchy ID/) return "0028"
  if (d ~ /^Native PCIe Enclosure Management/) return "0029";  if (d ~ /^Data Object Exchange/) return "002e"
  if (d ~ /^Extended Capability ID 0x/) { split(d, w, " "); return hexpad(w[4], 4) }
  return "unknown(" d ")"
}
/^[0-9a-f]+:[0-9a-f]+:[0-9a-f]+\.[0-7] / {
  addr = $1; class = $2; sub(/:$/, "", class)
  rev = match($0, /\(rev [0-9a-f]+\)/) ? substr($0, RSTART + 5, 2) : "00"
  progif = match($0, /\(prog-if [0-9a-f]+/) ? substr($0, RSTART + 9, 2) : "00"
  emit("id " $3 " class " class " progif " progif " rev " rev)
  cap = ""; next
}
/^\tRegion [0-9]: Memory at / {
  n = substr($2, 1, 1); a = region_address($5)
  t = match($0, /\((32-bit|64-bit|low-1M|type 3), (non-)?prefetchable\)/) ? substr($0, RSTART + 1, RLENGTH - 2) : "?"
  sub(/, /, " ", t)
  emit("region " n " mem " a " " t " " size_of($0)); next
}
/^\tRegion [0-9]: I\/O ports at / { emit("region " substr($2, 1, 1) " io " region_address($6) " " size_of($0)); next }
/^\tExpansion ROM at / { emit("rom " region_address($4) " " size_of($0)); next }
/^\tInterrupt: pin / { emit("interrupt pin " $3 " irq " $7); next }
/^\tNUMA node: / { emit("numa " $3); next }
/^\tIOMMU group: / { emit("iommu-group " $3); next }
/^\tKernel driver in use: / { emit("driver " $5); next }
/^\tCapabilities: \[[0-9a-f]+\] / {
  match($0, /\[[0-9a-f]+\] /); cap = substr($0, RSTART + 1, RLENGTH - 3); desc = substr($0, RSTART + RLENGTH)
  if (desc ~ /^<access denied>/) { emit("caps unreadable"); cap = ""; next }
  if (desc ~ /^<chain (looped|broken)>/) { emit("caps broken"); cap = ""; next }
  emit("cap " cap " " std_cap_id(desc))
  if (desc ~ /^Power Management version /) emit("pm " cap " version " substr(desc, 26))
  if (desc ~ /^MSI: /) { split(desc, w, " "); emit("msi " cap " " tolower(w[2]) " " tolower(w[3]) " " tolower(w[4]) " " w[5]) }
  if (desc ~ /^MSI-X: /) { split(desc, w, " "); emit("msix " cap " " tolower(w[2]) " " tolower(w[3]) " " tolower(w[4])) }
  if (desc ~ /^Express /) {
    t = desc; sub(/^Express \(/, "", t); v = t; sub(/\).*/, "", v); sub(/^[^)]*\) /, "", t)
    sub(/, MSI [0-9a-f]+$/, "", t); sub(/ \(Slot[+-]\)$/, "", t)
    emit("express " cap " " v " " t)
  }
  if (desc ~ /^Vendor Specific Information: VirtIO: /) { vcap = cap; emit("virtio " cap " " substr(desc, 38)) }
  next
}
/^\tCapabilities: \[[0-9a-f]+ v[0-9]+\] / {
  match($0, /\[[0-9a-f]+ v[0-9]+\] /); head = substr($0, RSTART + 1, RLENGTH - 3); desc = substr($0, RSTART + RLENGTH)
  if (desc ~ /^<chain looped>/) { emit("caps broken"); next }
  split(head, w, " "); emit("ecap " w[1] " " ext_cap_id(desc) " " w[2]); cap = ""; next
}
/^\t\tVector table: / && cap != "" { emit("msix-table " cap " " tolower($3) " " $4); next }
/^\t\tPBA: / && cap != "" { emit("msix-pba " cap " " tolower($2) " " $3); next }
/^\t\tBAR=[0-9]+ offset=/ && vcap == cap && cap != "" {
  line = $0; sub(/^\t\t/, "", line); emit("virtio-region " cap " " tolower(substr(line, 1, 3)) substr(line, 4)); next
}
' "$work/lspci.txt" > "$work/lspci.facts"

# Parents: lspci -PP prints DOMAIN:BRIDGE/.../BUS:DEV.FN for functions behind bridges.
awk '{ n = split($1, p, "/"); if (n > 1) { d = substr(p[1], 1, 5); parent = (n == 2) ? p[1] : d p[n - 1]; print d p[n] " parent " parent } }' \
  "$work/lspci-paths.txt" >> "$work/lspci.facts"
sort "$work/lspci.facts" > "$work/lspci.sorted"

if ! diff -u "$work/lspci.sorted" "$work/udrv.txt"; then
  echo "FAIL: udrv's enumeration of $root differs from lspci's (- lspci, + udrv)"
  exit 1
fi
functions=$(grep -c ' id ' "$work/udrv.txt")
caps=$(grep -c ' e\?cap ' "$work/udrv.txt" || true)
echo "udrv matches lspci on $root: $functions functions, $caps capabilities, $(wc -l < "$work/udrv.txt") facts"
