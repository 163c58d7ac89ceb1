// Reading input files (config, zones, $INCLUDEs) safely: only regular files, and never more
// than a caller's byte budget. A path naming a FIFO would block the reader until a writer
// appears, and /dev/zero would never end; both are refused before a single byte is read.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace gslb::core {

// What a file was when it was read: a reload compares these to skip files that did not change.
struct FileStamp {
  std::string path;
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// Reads `path` whole if it is a regular file of at most `max_bytes`. The path is opened with
// O_NONBLOCK (so a FIFO cannot block the open) and checked with fstat on the open descriptor.
// Errors carry no position; the message says what the file is ("a FIFO, not a regular file")
// or what limit it exceeds. `stamp`, when given, receives the file's identity.
Result<std::string> read_regular_file(const std::string& path, uint64_t max_bytes,
                                      FileStamp* stamp = nullptr);

// The current identity of `path` (a default FileStamp with the path if it cannot be stat'ed).
FileStamp stamp_of(const std::string& path);

}  // namespace gslb::core
