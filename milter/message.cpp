// The Message stages see and change (message.h): envelope, header block and the recorded edits.
#include "milter/message.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "util/strings.h"

namespace rampart::milter {

void Message::addReceivedHeader(std::string name, std::string value) {
    headerBytes_ += name.size() + value.size() + 3;
    size_t occ = 1;
    for (const auto& e : entries_) {
        if (e.origin == Origin::Received && util::iequals(e.field.name, name)) ++occ;
    }
    Entry e;
    e.field = {std::move(name), std::move(value)};
    e.origin = Origin::Received;
    e.occurrence = occ;
    view_.push_back(e.field);
    entries_.push_back(std::move(e));
}

size_t Message::entryIndex(size_t viewIndex) const {
    size_t seen = 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].removed) continue;
        if (seen == viewIndex) return i;
        ++seen;
    }
    throw std::out_of_range("header index out of range");
}

void Message::rebuildView() {
    view_.clear();
    for (const auto& e : entries_) {
        if (!e.removed) view_.push_back(e.field);
    }
}

void Message::changeHeader(size_t index, std::string value) {
    Entry& e = entries_[entryIndex(index)];
    if (e.field.value == value) return;
    e.field.value = std::move(value);
    e.changed = true;
    view_[index].value = e.field.value;
}

void Message::removeHeader(size_t index) {
    size_t i = entryIndex(index);
    if (entries_[i].origin != Origin::Received) {
        entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));  // never reached the MTA
    } else {
        entries_[i].removed = true;
    }
    view_.erase(view_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Message::appendHeader(std::string name, std::string value) {
    Entry e;
    e.field = {std::move(name), std::move(value)};
    e.origin = Origin::Appended;
    view_.push_back(e.field);
    entries_.push_back(std::move(e));
}

void Message::prependHeader(std::string name, std::string value) {
    Entry e;
    e.field = {std::move(name), std::move(value)};
    e.origin = Origin::Prepended;
    entries_.insert(entries_.begin(), e);
    view_.insert(view_.begin(), e.field);
}

void Message::removeRecipient(const std::string& address) {
    if (std::find(removedRecipients_.begin(), removedRecipients_.end(), address) == removedRecipients_.end()) {
        removedRecipients_.push_back(address);
    }
}

std::vector<std::string> Message::remainingRecipients() const {
    std::vector<std::string> out;
    for (const auto& r : envelope.recipients) {
        if (std::find(removedRecipients_.begin(), removedRecipients_.end(), r) == removedRecipients_.end())
            out.push_back(r);
    }
    return out;
}

void Message::changeSender(std::string address) {
    newSender_ = std::move(address);
}

EditList Message::edits() const {
    EditList out;
    // 1. Changes of received fields, by their received occurrence.
    for (const auto& e : entries_) {
        if (e.origin == Origin::Received && e.changed && !e.removed) {
            out.headers.push_back({HeaderEdit::Kind::Change, e.field.name, e.field.value, e.occurrence, 0});
        }
    }
    // 2. Deletions, highest occurrence first per name, so whether or not the MTA renumbers after a
    //    deletion, every index still names the intended field.
    std::vector<const Entry*> removed;
    for (const auto& e : entries_) {
        if (e.origin == Origin::Received && e.removed) removed.push_back(&e);
    }
    std::stable_sort(removed.begin(), removed.end(),
                     [](const Entry* a, const Entry* b) { return a->occurrence > b->occurrence; });
    for (const Entry* e : removed) {
        out.headers.push_back({HeaderEdit::Kind::Delete, e->field.name, "", e->occurrence, 0});
    }
    // 3. Appends in order.
    for (const auto& e : entries_) {
        if (e.origin == Origin::Appended)
            out.headers.push_back({HeaderEdit::Kind::Append, e.field.name, e.field.value, 0, 0});
    }
    // 4. Prepends: insert each at position 1 (below the MTA's Received:), bottom-most first, so the
    //    delivered order equals the view's order.
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        if (it->origin == Origin::Prepended) {
            out.headers.push_back({HeaderEdit::Kind::Insert, it->field.name, it->field.value, 0, 1});
        }
    }
    out.removedRecipients = removedRecipients_;
    out.newSender = newSender_;
    return out;
}

}  // namespace rampart::milter
