#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/error.hpp"
#include "common/read_file.hpp"

namespace mamlpp::io {

namespace {

std::string reason(int err) { return std::strerror(err); }

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw io_error(what + " '" + path + "': " + reason(err));
}

// Closes on scope exit unless released; keeps error paths short.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A name no other writer (thread, process, crashed earlier run) uses: pid, a process-wide
// counter and random bits; O_EXCL settles the rest.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string dir = directory_of(path);
  const std::string base = path.substr(path.find_last_of('/') + 1);
  return (dir == "/" ? "" : dir) + "/." + base + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter++) + "." + std::to_string(rng() & 0xffffffu);
}

bool write_all(int fd, const uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void atomic_write_file(const std::string& path, const uint8_t* data, std::size_t size) {
  if (path.empty() || path.back() == '/') throw io_error("cannot write '" + path + "': not a file name");
  if (data == nullptr && size != 0) throw io_error("cannot write '" + path + "': no data");
  // Refuse early what rename would refuse late, after writing everything.
  struct stat old_stat {};
  const bool had_old = ::stat(path.c_str(), &old_stat) == 0;
  if (had_old && S_ISDIR(old_stat.st_mode)) fail("cannot write", path, EISDIR);

  Fd tmp;
  std::string tmp_path;
  for (int attempt = 0; tmp.fd < 0; ++attempt) {
    tmp_path = temp_name(path);
    tmp.fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (tmp.fd < 0 && (errno != EEXIST || attempt >= 100))
      fail("cannot create a temporary file for", path, errno);
  }
  // From here every failure must also remove the temporary file.
  const auto abandon = [&](const std::string& what, int err) {
    ::close(tmp.fd);
    tmp.fd = -1;
    ::unlink(tmp_path.c_str());
    fail(what, path, err);
  };
  if (!write_all(tmp.fd, data, size)) abandon("cannot write", errno);
  // Keep the permission bits of the file being replaced (a 0600 file stays private); never
  // setuid/setgid/sticky.
  if (had_old && S_ISREG(old_stat.st_mode) && ::fchmod(tmp.fd, old_stat.st_mode & 0777) != 0)
    abandon("cannot set permissions for", errno);
  if (::fsync(tmp.fd) != 0) abandon("cannot sync", errno);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp_path.c_str());
    fail("cannot write", path, err);
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_path.c_str());
    fail("cannot replace", path, err);
  }
  // Make the rename itself durable. Some file systems cannot sync a directory (EINVAL); there
  // the rename is as durable as they allow.
  Fd dir;
  dir.fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir.fd >= 0 && ::fsync(dir.fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    fail("cannot sync the directory of", path, errno);
}

void atomic_write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  atomic_write_file(path, bytes.data(), bytes.size());
}

std::vector<uint8_t> read_whole_file(const std::string& path, std::uint64_t max_size) {
  return read_regular_file(path, max_size);
}

std::vector<uint8_t> read_safetensors_file(const std::string& path, std::uint64_t max_size,
                                           const SafetensorsLimits& limits) {
  return read_regular_file(path, max_size, 8, [&](const uint8_t* head, std::size_t n, std::uint64_t size) {
    check_safetensors_length(head, n, size, limits);
  });
}

}  // namespace mamlpp::io
