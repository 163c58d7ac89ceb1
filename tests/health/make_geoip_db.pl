#!/usr/bin/perl
# Writes a small GeoIP2-City-shaped MaxMind DB for the tests, with Debian's
# libmaxmind-db-writer-perl (nothing downloaded):
#   make_geoip_db.pl OUT.mmdb CIDR=CONTINENT[,COUNTRY[,SUBDIVISION]][@LAT,LON] ...
# e.g. 192.0.2.0/24=AS,JP  100.64.0.0/16=AS,CN,31  2001:db8:2::/48=EU,DE  198.18.0.0/16=AS,CN@31.2,121.5
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb CIDR=CONTINENT[,COUNTRY[,SUB]] ...\n";
my %types = (
    continent    => 'map',
    country      => 'map',
    subdivisions => [ 'array', 'map' ],
    code         => 'utf8_string',
    iso_code     => 'utf8_string',
    location     => 'map',
    latitude     => 'double',
    longitude    => 'double',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 24,
    database_type         => 'GeoIP2-City',
    languages             => ['en'],
    description           => { en => 'gslbd test database' },
    map_key_type_callback => sub { $types{ $_[0] } },
    alias_ipv6_to_ipv4    => 1,
    remove_reserved_networks => 0,    # the tests use documentation and shared ranges
);
for my $arg (@ARGV) {
    my ($cidr, $rest) = split /=/, $arg, 2;
    my ($where, $coords) = split /@/, $rest, 2;
    my ($continent, $country, $sub) = split /,/, $where;
    my %rec = (continent => { code => $continent });
    $rec{country} = { iso_code => $country } if $country;
    $rec{subdivisions} = [ { iso_code => $sub } ] if $sub;
    if ($coords) {
        my ($lat, $lon) = split /,/, $coords;
        $rec{location} = { latitude => $lat + 0.0, longitude => $lon + 0.0 };
    }
    $tree->insert_network($cidr, \%rec);
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh;
