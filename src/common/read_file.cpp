#include "common/read_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace mamlpp {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, const std::string& why) {
  throw io_error(what + " '" + path + "': " + why);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "Is a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe), not a regular file";
  if (S_ISCHR(mode)) return "a character device, not a regular file";
  if (S_ISBLK(mode)) return "a block device, not a regular file";
  if (S_ISSOCK(mode)) return "a socket, not a regular file";
  return "not a regular file";
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly `size` bytes at the current offset; false with errno set on a read error, or
// with errno 0 when the file ended early (it shrank while being read).
bool read_exactly(int fd, uint8_t* out, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      return false;
    }
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_size,
                                       std::size_t head_size, const FileHeadCheck& check_head) {
  Fd f;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) fail("cannot open", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail("cannot read", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("cannot read", path, kind_of(st.st_mode));
  // A regular file: blocking reads from here on, as usual.
  const int flags = ::fcntl(f.fd, F_GETFL);
  if (flags < 0 || ::fcntl(f.fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    fail("cannot read", path, std::strerror(errno));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_size)
    throw io_error("cannot read '" + path + "': " + std::to_string(size) +
                   " bytes is more than the limit of " + std::to_string(max_size));

  std::vector<uint8_t> out(static_cast<std::size_t>(size));
  const std::size_t head = head_size < out.size() ? head_size : out.size();
  const auto read_part = [&](std::size_t from, std::size_t count) {
    if (!read_exactly(f.fd, out.data() + from, count))
      fail("cannot read", path, errno ? std::strerror(errno) : "the file shrank while being read");
  };
  read_part(0, head);
  if (check_head) check_head(out.data(), head, size);
  read_part(head, out.size() - head);
  return out;
}

}  // namespace mamlpp
