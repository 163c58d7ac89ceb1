"""Zone texts shared by the end-to-end tests."""

# SOA TTL 3600, MINIMUM 300: negative answers carry the SOA with TTL 300 (RFC 2308 §3).
E2E = """\
$ORIGIN e2e.test.
$TTL 3600
@           IN SOA  ns1 hostmaster 2026010101 3600 600 86400 300
@           IN NS   ns1
@           IN NS   ns2.elsewhere.example.
@           IN MX   10 mail
ns1         IN A    127.0.0.1
mail        IN A    192.0.2.25
www      60 IN A    192.0.2.1
www      60 IN A    192.0.2.2
www         IN AAAA 2001:db8::1
alias       IN CNAME alias2
alias2      IN CNAME www
dangling    IN CNAME nothing-here
*.wild      IN A    192.0.2.80
*.wild      IN TXT  "synthesised"
a.b.ent     IN TXT  "below an empty non-terminal"
*.ent       IN TXT  "ent wildcard"
sub         IN NS   ns.sub
sub         IN NS   ns.outside.example.
sub         IN DS   12345 13 2 8F5E1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7
ns.sub      IN A    192.0.2.53
""" + "".join(f'big IN TXT "{i:02d}{"x" * 180}"\n' for i in range(10)) \
    + "".join(f'medium IN TXT "{i:02d}{"y" * 180}"\n' for i in range(4))

# SOA TTL 120 below MINIMUM 900: the SOA TTL wins.
NEG = """\
$ORIGIN neg.test.
$TTL 3600
@   120 IN SOA ns1.e2e.test. hostmaster.e2e.test. 1 3600 600 86400 900
@       IN NS  ns1.e2e.test.
x       IN A   192.0.2.9
"""

ALL = [("e2e.test.", E2E), ("neg.test.", NEG)]
