// gslbctl: talks to a running gslbd over its control socket. One request line (arguments
// separated by tabs), one reply whose first line is the exit status.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage: gslbctl [--socket PATH] [--json] COMMAND [ARGS]

  status                               every dynamic name (pool, answer) and every address
                                       (state, last result, latency, since, consecutive)
  explain NAME [--type TYPE] [--client IP]
                                       how any name is answered: each step (zone, CNAME,
                                       wildcard, delegation, ...) with its RFC rule; for a
                                       dynamic name which pools and addresses, and why
  drain ADDRESS|POOL [--for DURATION] [--reason TEXT]
                                       take addresses out of the answers (maintenance);
                                       kept across reloads and restarts with your user name
                                       and the reason (shown by status)
  undrain ADDRESS|POOL                 put them back
  reload                               re-read gslbd.toml, probes and zones; on any error the
                                       running configuration stays
  check-config                         check the files as a reload would, change nothing
  zones                                each zone: SOA serial, records, when loaded, file,
                                       transfers served and who may transfer
  events [--follow] [--json]           recent state changes; --follow streams new ones only;
                                       --json: one JSON object per event
  verdicts [--follow]                  every target's state as JSON lines (format v1), then
                                       {"v":1,"type":"synced"}; --follow streams changes

  --socket PATH   gslbd's control socket (default /run/gslbd/control.sock)
  --json          machine-readable output (status, explain, zones, events)

Exit status: 0 done, 1 gslbd reported an error, 2 gslbd could not be reached.
)";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a vanished gslbd is an error message, not a signal death
  std::string socket_path = "/run/gslbd/control.sock";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("gslbctl %s\n", GSLBD_VERSION);
      return 0;
    } else {
      if (a.find('\t') != std::string::npos || a.find('\n') != std::string::npos) {
        std::fprintf(stderr, "gslbctl: arguments cannot contain tabs or newlines\n");
        return 2;
      }
      args.push_back(a);
    }
  }
  // --json may come before the command too: the daemon takes it anywhere after it.
  if (!args.empty() && args[0] == "--json") {
    args.erase(args.begin());
    args.push_back("--json");
  }
  if (args.empty() || args[0] == "--json") {
    std::fputs(kUsage, stderr);
    return 2;
  }

  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) {
    std::fprintf(stderr, "gslbctl: socket path too long: %s\n", socket_path.c_str());
    return 2;
  }
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "gslbctl: cannot reach gslbd at %s: %s (is gslbd running? see --socket)\n",
                 socket_path.c_str(), std::strerror(errno));
    return 2;
  }
  std::string request;
  for (const auto& a : args) request += (request.empty() ? "" : "\t") + a;
  request += '\n';
  for (size_t off = 0; off < request.size();) {
    ssize_t n = ::write(fd, request.data() + off, request.size() - off);
    if (n <= 0) {
      std::fprintf(stderr, "gslbctl: write: %s\n", std::strerror(errno));
      return 2;
    }
    off += size_t(n);
  }
  // The first line is the status; everything after it goes to stdout as it arrives (so
  // `events --follow` streams).
  std::string head;
  int status = -1;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t from = 0;
    if (status < 0) {
      head.append(buf, size_t(n));
      auto nl = head.find('\n');
      if (nl == std::string::npos) continue;
      status = std::atoi(head.substr(0, nl).c_str());
      std::string rest = head.substr(nl + 1);
      std::fwrite(rest.data(), 1, rest.size(), status == 0 ? stdout : stderr);
    } else {
      std::fwrite(buf + from, 1, size_t(n) - from, status == 0 ? stdout : stderr);
    }
    std::fflush(stdout);
  }
  ::close(fd);
  if (status < 0) {
    std::fprintf(stderr, "gslbctl: gslbd closed the connection without a reply\n");
    return 2;
  }
  return status == 0 ? 0 : 1;
}
