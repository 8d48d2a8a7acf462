// Received fields (RFC 5321 section 4.4): the IP addresses a trace field names for the host it came
// from, so the hygiene rules can find fields added inside private networks.
#pragma once

#include <string_view>
#include <vector>

#include "net/cidr.h"

namespace rampart::mail {

// The IP addresses (at most 16) in the from-clause of a Received value: the "from" domain, then the
// TCP-info comment, as Postfix "from helo (rdns [192.0.2.1])", Exim "from [192.0.2.1] (helo=x)" and
// qmail "from unknown (HELO x) (192.0.2.1)" write it. Empty if the value has no from-clause.
std::vector<net::IpBytes> receivedFromAddresses(std::string_view value);

}  // namespace rampart::mail
