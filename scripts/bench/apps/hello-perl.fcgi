#!/usr/bin/perl
# Benchmark app: FastCGI "Hello, world!" with Perl's FCGI module (libfcgi-perl).
use strict;
use warnings;
use FCGI;

my $request = FCGI::Request();
while ($request->Accept() >= 0) {
    print "Content-Type: text/plain\r\n\r\nHello, world!\n";
}
