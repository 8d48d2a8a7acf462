// Suppression lists shared by rampart-milter, rampart-policyd and rampartctl: addresses and whole
// domains that must not be mailed, each with a reason, a scope, a source, a time and an optional
// expiry, and an audit trail of every change.
//
// The store is SQLite (suppression_list = sqlite:/var/lib/rampart/suppression.db), behind the
// suppress::Store interface: rampartctl, the one-click endpoint and bounce ingestion write it; the
// daemons keep an in-memory index of it (Index) that follows the audit trail, so a change is seen
// within about a second without a restart.
//
// This header includes the whole API; each part has its own header:
//   suppression/model.h         reasons, scopes, entries, audit records, lookup context and hits
//   suppression/normalize.h     normalizeTarget: the one form of an address or domain
//   suppression/time_text.h     expiry texts and time formatting
//   suppression/store.h         the Store interface, with the semantics every implementation keeps
//   suppression/sqlite_store.h  SqliteStore: the SQLite implementation, files and permissions
//   suppression/csv.h           CSV import and export
//   suppression/index.h         the daemons' in-memory Index
#pragma once

#include "suppression/csv.h"
#include "suppression/index.h"
#include "suppression/model.h"
#include "suppression/normalize.h"
#include "suppression/sqlite_store.h"
#include "suppression/store.h"
#include "suppression/time_text.h"
