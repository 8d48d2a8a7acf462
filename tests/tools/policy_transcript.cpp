// rampart-policy-transcript FILE...: runs golden policy transcripts (tests/golden/policy/*.transcript)
// against the request service, PolicyService over a memory-only JournalStore, with a fake clock: no
// sockets, no DNS. Exit 0 when every expectation holds; otherwise each mismatch with file:line, what
// was expected and what the service answered.
//
// A transcript is a limits snippet, then steps, one per line ('#' starts a comment line):
//   timezone ZONE                  policyd_timezone (default UTC); before `limits`
//   limits                         the limits file follows, up to a line `end`
//   monitor-only yes|no            policyd_monitor_only from here on
//   @ 2026-03-29T01:59:00 ZONE     set the clock to that local time (ZONE: an IANA name or UTC)
//   @ +5m                          advance the clock (s, m, h, d, w as in the configuration)
//   session NAME                   the connection the next requests come on (default "1"); Postfix
//                                  gives each smtpd process its own, one transaction at a time
//   > STATE attr=value ...         a request: STATE is RCPT, END-OF-MESSAGE, DATA... (a Postfix
//                                  smtpd_access_policy request) or REFUND (rampart_refund); the
//                                  attributes are the policy protocol's (sender, recipient,
//                                  instance, queue_id, recipient_count, sasl_username, ...)
//   >> attr=value                  one more attribute of the request above (values with spaces)
//   < ACTION                       the reply expected for the pending request, exactly
//   < suspended: needs provider DOMAIN   the request is suspended, waiting for that
//   resume ANSWER                  satisfies the suspension (the provider's name), then `<`
//   control CMD ARG...             a control command (arguments separated by tabs on the wire;
//                                  "a quoted phrase" is one argument);
//                                  `<` lines then give the reply's lines in order, `<~ TEXT` a line
//                                  that must occur somewhere in the reply
//   housekeeping                   the once-a-second upkeep (expires reservations)
//   suppress ADDRESS REASON        puts ADDRESS (or @domain) on the global suppression list
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/values.h"
#include "date/tz.h"
#include "policyd/control.h"
#include "policyd/journal_store.h"
#include "policyd/protocol.h"
#include "policyd/service.h"
#include "suppression/suppression.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strings.h"

using namespace rampart;
using namespace rampart::policyd;

namespace {

struct Failure {
    std::string where;
    std::string what;
};

std::string trim(std::string_view s) {
    size_t a = s.find_first_not_of(" \t\r");
    if (a == std::string_view::npos) return "";
    size_t b = s.find_last_not_of(" \t\r");
    return std::string(s.substr(a, b - a + 1));
}

// Words separated by blanks; "a quoted phrase" is one word.
std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    for (std::string w; in >> std::quoted(w);)
        out.push_back(w);
    return out;
}

// "2026-03-29T01:59:00 Europe/Berlin": that local time in the zone (the earlier of two in a DST fold).
std::optional<util::SystemTime> parseLocal(const std::string& text, std::string& error) {
    auto w = words(text);
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (w.empty() || std::sscanf(w[0].c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) {
        error = "expected @ YYYY-MM-DDTHH:MM:SS ZONE or @ +DURATION";
        return std::nullopt;
    }
    date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                             date::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) {
        error = "not a date: " + w[0];
        return std::nullopt;
    }
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(w.size() > 1 ? w[1] : "UTC");
    } catch (const std::exception& e) {
        error = e.what();
        return std::nullopt;
    }
    date::local_seconds ls =
        date::local_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec);
    return util::SystemTime(zone->to_sys(ls, date::choose::earliest).time_since_epoch());
}

class Transcript {
  public:
    explicit Transcript(std::string file) : file_(std::move(file)) {}

    std::vector<Failure> run() {
        std::ifstream in(file_);
        if (!in) return {{file_, "cannot open"}};
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);)
            lines.push_back(l);
        for (size_t i = 0; i < lines.size(); ++i) {
            line_ = i + 1;
            std::string l = trim(lines[i]);
            if (l.empty() || l[0] == '#') continue;
            if (l == "limits") {
                std::string text;
                size_t j = i + 1;
                for (; j < lines.size() && trim(lines[j]) != "end"; ++j)
                    text += lines[j] + "\n";
                if (j == lines.size()) return fail("`limits` without a closing `end`"), failures_;
                loadLimits(text);
                i = j;
                continue;
            }
            step(l, i + 1 < lines.size() ? std::optional<std::string>() : std::nullopt);
            if (fatal_) break;
        }
        line_ = lines.size();
        if (pending_) fail("the last request has no `<` expectation");
        if (!service_ && !fatal_) fail("no `limits` section");
        return failures_;
    }

  private:
    void fail(const std::string& what) { failures_.push_back({file_ + ":" + std::to_string(line_), what}); }
    void fatalError(const std::string& what) {
        fail(what);
        fatal_ = true;
    }

    void loadLimits(const std::string& text) {
        const date::time_zone* zone = date::locate_zone(timezone_);
        config::Diagnostics diags;
        auto limits = std::make_shared<const LimitSet>(LimitSet::parse(text, file_, zone, diags));
        if (diags.hasErrors()) return fatalError("the limits have errors:\n" + diags.str());
        limits_ = limits;
        if (!service_) {
            store_ = std::make_unique<JournalStore>(state_, std::shared_ptr<const util::Clock>(clock_));
            service_ = std::make_unique<PolicyService>(runtime(), *store_);
        } else {
            service_->setRuntime(runtime());
        }
    }

    std::shared_ptr<const Runtime> runtime() const {
        auto rt = std::make_shared<Runtime>();
        rt->limits = limits_;
        rt->monitorOnly = monitorOnly_;
        rt->errorAction = "DEFER_IF_PERMIT 4.3.0 rampart: policy service error, try again later";
        return rt;
    }

    void step(const std::string& l, std::optional<std::string>) {
        if (l[0] != '<') controlReply_.reset();
        if (l.rfind("timezone ", 0) == 0) {
            if (service_) return fatalError("`timezone` must come before `limits`");
            timezone_ = trim(l.substr(9));
            return;
        }
        if (l[0] == '<') return expect(l);
        if (pending_ && !l.starts_with(">>") && !l.starts_with("resume ")) {
            return fatalError("a request without its `<` expectation before this line");
        }
        if (l.starts_with(">>")) return addAttribute(trim(l.substr(2)));
        if (l[0] == '>') return request(trim(l.substr(1)));
        if (!service_) return fatalError("`limits` must come first");
        if (l[0] == '@') return clock(trim(l.substr(1)));
        auto w = words(l);
        if (w[0] == "monitor-only" && w.size() == 2) {
            monitorOnly_ = w[1] == "yes";
            service_->setRuntime(runtime());
            return;
        }
        if (w[0] == "session" && w.size() == 2) {
            session_ = w[1];
            return;
        }
        if (w[0] == "resume" && w.size() >= 2) return resume(trim(l.substr(6)));
        if (w[0] == "control" && w.size() >= 2) return control(w);
        if (w[0] == "housekeeping" && w.size() == 1) return service_->housekeeping(clock_->now());
        if (w[0] == "suppress" && w.size() == 3) return suppress(w[1], w[2]);
        fatalError("unknown step: " + l);
    }

    void clock(const std::string& arg) {
        if (!arg.empty() && arg[0] == '+') {
            auto d = config::parseDuration(arg.substr(1));
            if (!d) return fatalError(d.error());
            clock_->advance(*d);
            return;
        }
        std::string error;
        auto t = parseLocal(arg, error);
        if (!t) return fatalError(error);
        clock_->set(*t);
    }

    Session& session() {
        Session& s = sessions_[session_];
        if (s.id == 0) {
            s.id = sessions_.size();
            s.peer = "session " + session_;
        }
        return s;
    }

    void request(const std::string& text) {
        auto w = words(text);
        if (w.empty()) return fatalError("`>` needs a protocol state");
        std::string wire;
        if (w[0] == "REFUND") {
            wire = "request=rampart_refund\n";
        } else {
            wire = "request=smtpd_access_policy\nprotocol_state=" + w[0] + "\n";
        }
        for (size_t i = 1; i < w.size(); ++i) {
            if (w[i].find('=') == std::string::npos) return fatalError("not attr=value: " + w[i]);
            wire += w[i] + "\n";
        }
        pendingWire_ = wire;
        pending_ = true;
        parsed_ = false;
    }

    void addAttribute(const std::string& attr) {
        if (!pending_ || parsed_) return fatalError("`>>` must follow a `>` request");
        if (attr.find('=') == std::string::npos) return fatalError("not attr=value: " + attr);
        pendingWire_ += attr + "\n";
    }

    // Sends the pending request (parsed from its wire form, as the daemon does) and records the reply.
    void send() {
        parsed_ = true;
        Request req;
        std::string wire = pendingWire_ + "\n";
        auto r = parseRequest(wire, ProtocolLimits{}, req);
        if (r.status != ParseStatus::Complete) {
            reply_ = Reply::answer("(garbage: " + r.error + ")");
            return;
        }
        reply_ = service_->handle(session(), req, clock_->now());
    }

    static std::string show(const Reply& r) {
        switch (r.kind) {
            case Reply::Kind::Answer:
                return r.action;
            case Reply::Kind::Close:
                return "(close)";
            case Reply::Kind::Suspend:
                return "suspended: needs " + std::string(needName(r.suspension->need.kind)) + " " +
                       r.suspension->need.subject;
        }
        return "?";
    }

    void expect(const std::string& l) {
        bool contains = l.starts_with("<~");
        std::string want = trim(l.substr(contains ? 2 : 1));
        if (controlReply_) {
            if (contains) {
                if (controlReply_->find(want) == std::string::npos)
                    fail("the control reply has no \"" + want + "\":\n" + *controlReply_);
                return;
            }
            std::string got;
            size_t nl = controlReply_->find('\n', controlPos_);
            if (controlPos_ < controlReply_->size()) {
                got =
                    controlReply_->substr(controlPos_, nl == std::string::npos ? std::string::npos : nl - controlPos_);
                controlPos_ = nl == std::string::npos ? controlReply_->size() : nl + 1;
            } else {
                got = "(end of the reply)";
            }
            if (got != want) fail("control reply line\n  expected: " + want + "\n  got:      " + got);
            return;
        }
        if (!pending_) return fatalError("`<` without a request");
        if (!parsed_) send();
        if (contains) return fatalError("`<~` is for control replies");
        std::string got = show(reply_);
        if (got != want) fail("reply\n  expected: " + want + "\n  got:      " + got);
        if (reply_.kind != Reply::Kind::Suspend) pending_ = false;
    }

    void resume(const std::string& answer) {
        if (!pending_ || !parsed_ || reply_.kind != Reply::Kind::Suspend) {
            return fatalError("`resume` without a suspended request");
        }
        auto suspension = reply_.suspension;
        reply_ = service_->resume(session(), *suspension, answer, clock_->now());
    }

    void control(const std::vector<std::string>& w) {
        std::string line;
        for (size_t i = 1; i < w.size(); ++i)
            line += (i > 1 ? "\t" : "") + w[i];
        controlReply_ = runControl(
            line, *service_, [] { return std::string("stats: (transcript)"); }, clock_->now());
        controlPos_ = 0;
    }

    void suppress(const std::string& target, const std::string& reasonName) {
        if (!suppressDir_) {
            char tmpl[] = "/tmp/rampart-transcript-XXXXXX";
            if (!::mkdtemp(tmpl)) return fatalError("mkdtemp failed");
            suppressDir_ = tmpl;
            auto s = suppress::Store::open(*suppressDir_ + "/suppression.db", false);
            if (!s) return fatalError("suppression store: " + s.error());
            suppressStore_ = std::move(s).value();
            index_ = std::make_shared<suppress::Index>(suppress::NormalizeOptions{});
            service_->setSuppression(index_);
        }
        auto reason = suppress::parseReason(reasonName);
        if (!reason) return fatalError("unknown suppression reason " + reasonName);
        suppress::Entry e;
        e.target = target;
        e.reason = *reason;
        e.source = "transcript";
        e.created = std::chrono::duration_cast<std::chrono::seconds>(clock_->now().time_since_epoch()).count();
        if (auto r = suppressStore_->add(e, "transcript", file_); !r) return fatalError("suppress: " + r.error());
        if (auto r = index_->refresh(*suppressStore_); !r) return fatalError("suppression index: " + r.error());
    }

  public:
    ~Transcript() {
        if (suppressDir_) {
            std::error_code ec;
            std::filesystem::remove_all(*suppressDir_, ec);
        }
    }

  private:
    std::string file_;
    size_t line_ = 0;
    bool fatal_ = false;
    std::vector<Failure> failures_;
    std::string timezone_ = "UTC";
    bool monitorOnly_ = false;
    std::shared_ptr<const LimitSet> limits_;
    std::shared_ptr<util::FakeClock> clock_ = std::make_shared<util::FakeClock>(util::SystemTime{});
    State state_;
    std::unique_ptr<JournalStore> store_;
    std::unique_ptr<PolicyService> service_;
    std::map<std::string, Session> sessions_;
    std::string session_ = "1";
    bool pending_ = false, parsed_ = false;
    std::string pendingWire_;
    Reply reply_;
    std::optional<std::string> controlReply_;
    size_t controlPos_ = 0;
    std::optional<std::string> suppressDir_;
    std::unique_ptr<suppress::Store> suppressStore_;
    std::shared_ptr<suppress::Index> index_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: rampart-policy-transcript FILE...\n";
        return 2;
    }
    log::setLevel("warning");  // the service's info lines would drown the verdicts
    int failed = 0;
    for (int i = 1; i < argc; ++i) {
        auto failures = Transcript(argv[i]).run();
        if (failures.empty()) {
            std::cout << "ok " << argv[i] << "\n";
            continue;
        }
        ++failed;
        for (const auto& f : failures)
            std::cout << "FAIL " << f.where << ": " << f.what << "\n";
    }
    std::cout << (argc - 1 - failed) << " passed, " << failed << " failed\n";
    return failed ? 1 : 0;
}
