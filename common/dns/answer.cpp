// Names of DNS answer statuses (answer.h), for messages and --json output.
#include "dns/answer.h"

namespace rampart::dns {

const char* statusName(Status s) {
    switch (s) {
        case Status::Ok:
            return "ok";
        case Status::NoData:
            return "no data";
        case Status::NxDomain:
            return "nxdomain";
        case Status::Timeout:
            return "timeout";
        case Status::Error:
            return "error";
    }
    return "error";
}

}  // namespace rampart::dns
