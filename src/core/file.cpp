#include "core/file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gslb::core {

namespace {

const char* kind_of(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

FileStamp make_stamp(const std::string& path, const struct stat& st) {
  return FileStamp{path, uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
                   int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> read_regular_file(const std::string& path, uint64_t max_bytes,
                                      FileStamp* stamp) {
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) return Error{path, 0, 0, fmt::format("cannot open: {}", std::strerror(errno))};
  struct stat st;
  if (::fstat(f.fd, &st) != 0)
    return Error{path, 0, 0, fmt::format("cannot stat: {}", std::strerror(errno))};
  if (!S_ISREG(st.st_mode))
    return Error{path, 0, 0, fmt::format("is {}, not a regular file", kind_of(st.st_mode))};
  if (uint64_t(st.st_size) > max_bytes)
    return Error{path, 0, 0, fmt::format("is {} bytes, over the limit of {}", st.st_size, max_bytes)};
  // A regular file never returns EAGAIN, so O_NONBLOCK is harmless for the reads below.
  std::string text;
  text.resize(size_t(st.st_size));
  size_t got = 0;
  while (true) {
    if (got == text.size()) {
      if (got >= max_bytes) {
        // It may still be growing: one more byte would cross the budget.
        char extra;
        ssize_t n = ::read(f.fd, &extra, 1);
        if (n > 0)
          return Error{path, 0, 0, fmt::format("grew over the limit of {} bytes while read", max_bytes)};
        break;
      }
      text.resize(std::min<uint64_t>(max_bytes, text.size() + 65536));
    }
    ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno))};
    }
    if (n == 0) break;
    got += size_t(n);
  }
  text.resize(got);
  if (stamp) *stamp = make_stamp(path, st);
  return text;
}

FileStamp stamp_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return FileStamp{path};
  return make_stamp(path, st);
}

}  // namespace gslb::core
