// What a DNS lookup answers: its status and the records of the types Rampart asks for (TXT for DKIM
// keys, MX for provider detection). Shared by the synchronous Resolver (resolver.h), the
// event-driven AsyncResolver (async_resolver.h) and the code that reads their answers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::dns {

enum class Status {
    Ok,        // at least one record of the type
    NoData,    // the name exists, no record of this type
    NxDomain,  // the name does not exist
    Timeout,
    Error,  // SERVFAIL, REFUSED, network error, malformed answer...
};
const char* statusName(Status s);  // "ok", "no data", "nxdomain", "timeout", "error"

struct TxtAnswer {
    Status status = Status::Error;
    std::vector<std::string> records;  // one string per TXT record, its character-strings concatenated
    uint32_t ttl = 0;                  // smallest TTL of the answer (or of the SOA for negative answers, if known)
    std::string error;                 // detail for Timeout/Error
};

struct MxRecord {
    uint16_t preference = 0;
    std::string host;  // lower-case, no trailing dot; "" for a null MX ("0 .", RFC 7505)
};

struct MxAnswer {
    Status status = Status::Error;
    std::vector<MxRecord> records;  // sorted by preference, then host
    uint32_t ttl = 0;
    std::string error;
};

}  // namespace rampart::dns
