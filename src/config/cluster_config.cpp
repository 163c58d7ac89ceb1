// [cluster] of gslbd.toml: the etcd endpoints, this node's name, the key prefix, down_when,
// the lease and TLS files (what src/cluster needs to share verdicts). Split from config.cpp.
#include <algorithm>
#include <cctype>

#include "config/sections.hpp"

namespace gslb::config {

void parse_cluster(Checker& c, const toml::table& t, cluster::Config& cl) {
  c.only(t, "cluster", {"etcd", "node", "prefix", "down_when", "lease", "ca_file", "cert_file", "key_file"});
  c.strings(t, "cluster", "etcd", [&](const toml::node& n, const std::string& key, const std::string& v) {
    const bool tls = v.rfind("https://", 0) == 0;
    if ((v.rfind("http://", 0) != 0 && !tls) || v.size() <= (tls ? 8u : 7u))
      c.error(n, key, "must be an http:// or https:// URL such as \"http://127.0.0.1:2379\"");
    else
      cl.etcd.push_back(v.back() == '/' ? v.substr(0, v.size() - 1) : v);
  });
  const toml::node* etcd = t.get("etcd");
  if (etcd && cl.etcd.empty() && etcd->as_array() && etcd->as_array()->empty())
    c.error(*etcd, "cluster.etcd", "must name at least one endpoint");
  // The node's name is part of etcd keys and of event lines: no '/', no spaces.
  if (const std::string* v = c.string(t, "cluster", "node")) {
    const bool good = !v->empty() && v->size() <= 64 &&
                      std::all_of(v->begin(), v->end(), [](char ch) {
                        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
                      });
    if (good) cl.node = *v;
    else c.error(*t.get("node"), "cluster.node", "must be 1-64 letters, digits, '-', '_' or '.'");
  } else if (etcd) {
    c.error(t.source(), "cluster.node", "is required: this instance's name, unique in the deployment");
  }
  if (const std::string* v = c.string(t, "cluster", "prefix")) {
    std::string p = *v;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.size() < 2 || p.front() != '/' || p.find(' ') != std::string::npos)
      c.error(*t.get("prefix"), "cluster.prefix", "must be a key path such as \"/gslbd/prod\"");
    else cl.prefix = p;
  }
  if (const std::string* v = c.string(t, "cluster", "down_when")) {
    auto r = cluster::DownWhen::parse(*v);
    if (r) cl.down_when = *r;
    else c.error(*t.get("down_when"), "cluster.down_when", r.error().message);
  }
  if (auto d = c.duration(t, "cluster", "lease")) {
    if (*d < std::chrono::seconds(1) || *d > std::chrono::hours(1) || *d % std::chrono::seconds(1) != core::Duration(0))
      c.error(*t.get("lease"), "cluster.lease", "must be whole seconds, 1s..1h (etcd leases count seconds)");
    else cl.lease = *d;
  }
  for (auto [k, field] : {std::pair{"ca_file", &cl.ca_file}, {"cert_file", &cl.cert_file}, {"key_file", &cl.key_file}})
    if (const std::string* v = c.string(t, "cluster", k)) *field = c.resolve(*v);
}

}  // namespace gslb::config
