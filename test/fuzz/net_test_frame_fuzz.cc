// libFuzzer target: udrv's test frames as receivers check them
// (udrv/net/test_frame.h), bytes that came off a wire. A frame
// VerifyTestFrame accepts must be exactly the frame BuildTestFrame makes
// from the fields it reported; a refused one must say why; the stream
// verifier must classify every frame without crashing and keep its counts
// consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "udrv/net/test_frame.h"

namespace net = udrv::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto info = net::VerifyTestFrame(bytes);
  if (info) {
    if (info->length != size) std::abort();
    std::vector<std::byte> rebuilt(size);
    const net::TestFrameSpec spec{.dst = info->dst,
                                  .src = info->src,
                                  .stream = info->stream,
                                  .sequence = info->sequence,
                                  .length = info->length};
    if (!net::BuildTestFrame(rebuilt, spec)) std::abort();
    if (std::memcmp(rebuilt.data(), data, size) != 0) std::abort();
  } else if (info.error().what.empty()) {
    std::abort();
  }

  // The same bytes as a stream's next frame, twice: the second is a duplicate
  // (or a second refusal), and the counts add up.
  net::StreamVerifier verifier(info ? info->stream : 0, info ? info->sequence : 0);
  const auto first = verifier.Check(bytes);
  const auto second = verifier.Check(bytes);
  const net::StreamTally& tally = verifier.tally();
  if (info && (first != net::StreamVerifier::Verdict::GOOD ||
               second != net::StreamVerifier::Verdict::BAD || tally.duplicates != 1)) {
    std::abort();
  }
  if (first == net::StreamVerifier::Verdict::OTHER && tally.other != 2) std::abort();
  if (tally.good + tally.corrupt + tally.duplicates + tally.wrong_stream + tally.out_of_range !=
      tally.frames) {
    std::abort();
  }
  if (!tally.ok() && tally.first_error.empty()) std::abort();
  return 0;
}
