#include "store/event_log.h"

#include <algorithm>
#include <vector>

namespace dxs::store {

void EventLog::load(StateReader& db, ConnectionTable& connections, WriteSet& ws) {
  uint64_t last = 0;
  connections.for_each([&](Connection& c) {
    last = std::max(last, c.record.event_log_batch());
    c.unacked.clear();
    c.unsaved_batch = 0;
  });
  kept_.clear();
  auto it = db.iterate(Cf::kEvents);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != 16) fail_stop_corrupt(Cf::kEvents, key);
    const uint64_t conn = keys::conn_of_key(key);
    const uint64_t id = keys::load_be64(key.substr(8));
    if (conn != 0) {
      // An event of its own, moved out of the log (or written before the log was).
      Connection* c = connections.find(conn);
      if (c == nullptr) {
        ws.del(Cf::kEvents, key);
      } else {
        c->unacked.push_back(EventRef{id, 0});
      }
      continue;
    }
    pb::EventLogRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      fail_stop_corrupt(Cf::kEvents, key);
    }
    kept_[id] = 0;
    last = std::max(last, id);
    // Replayed over the records written before this batch; the others reflect it.
    auto replays = [&](Connection& c) {
      if (id <= c.record.event_log_batch()) return false;
      if (c.unsaved_batch == 0) c.unsaved_batch = id;
      return true;
    };
    for (const pb::EventLogRecord::Event& e : record.events()) {
      Connection* c = connections.find(e.conn());
      if (c == nullptr) continue;
      c->unacked.push_back(EventRef{e.event_id(), id});
      if (!replays(*c)) continue;
      c->record.set_next_event_id(std::max(c->record.next_event_id(), e.event_id()));
      // Events are placed in the order they are logged, and a reply placed after them
      // would have written the record.
      if (c->record.kind() == pb::RING) c->record.set_ring_rsp_end(e.rsp_end());
    }
    for (const pb::EventLogRecord::Ack& a : record.acks()) {
      Connection* c = connections.find(a.conn());
      if (c == nullptr || !replays(*c)) continue;
      c->record.set_acked_event_id(std::max(c->record.acked_event_id(), a.event_id()));
    }
  }
  connections.for_each([&](Connection& c) {
    std::sort(c.unacked.begin(), c.unacked.end(),
              [](const EventRef& a, const EventRef& b) { return a.id < b.id; });
    const uint64_t acked = c.record.acked_event_id();
    while (!c.unacked.empty() && c.unacked.front().id <= acked) {
      if (c.unacked.front().batch == 0) {
        ws.del(Cf::kEvents, keys::event(c.record.id(), c.unacked.front().id));
      }
      c.unacked.pop_front();
    }
    for (const EventRef& ref : c.unacked) {
      if (ref.batch != 0) ++kept_[ref.batch];
    }
    c.sent_event_id = acked;
  });
  batch_ = last + 1;
  cached_batch_ = 0;
  pending_.Clear();
  pending_unacked_ = 0;
}

void EventLog::append(Connection& c, const pb::WatchEvent& e) {
  pb::EventLogRecord::Event* logged = pending_.add_events();
  logged->set_conn(c.record.id());
  logged->set_event_id(e.event_id());
  logged->set_path(e.path());
  logged->set_token(e.token());
  logged->set_rsp_end(e.rsp_end());
  ++pending_unacked_;
  c.unacked.push_back(EventRef{e.event_id(), batch_});
  if (c.unsaved_batch == 0) c.unsaved_batch = batch_;
}

void EventLog::release(const EventRef& ref) {
  if (ref.batch == batch_) {
    --pending_unacked_;
  } else if (auto it = kept_.find(ref.batch); it != kept_.end() && it->second > 0) {
    --it->second;
  }
}

void EventLog::acknowledge(WriteSet& ws, Connection& c, uint64_t upto) {
  while (!c.unacked.empty() && c.unacked.front().id <= upto) {
    const EventRef& ref = c.unacked.front();
    if (ref.batch == 0) {
      ws.del(Cf::kEvents, keys::event(c.record.id(), ref.id));
    } else {
      release(ref);
    }
    c.unacked.pop_front();
  }
  pb::EventLogRecord::Ack* ack = pending_.add_acks();
  ack->set_conn(c.record.id());
  ack->set_event_id(upto);
  c.record.set_acked_event_id(upto);
  if (c.unsaved_batch == 0) c.unsaved_batch = batch_;
}

void EventLog::forget(const Connection& c) {
  // Its events of their own go with its prefix (ConnectionTable::remove).
  for (const EventRef& ref : c.unacked) {
    if (ref.batch != 0) release(ref);
  }
}

const pb::EventLogRecord& EventLog::record(uint64_t batch) {
  if (batch == batch_) return pending_;
  if (cached_batch_ != batch) {
    cached_batch_ = 0;
    if (!state_.get_record(Cf::kEvents, keys::event_log(batch), &cached_)) {
      fail_stop_corrupt(Cf::kEvents, keys::event_log(batch));
    }
    cached_batch_ = batch;
  }
  return cached_;
}

void EventLog::read(uint64_t conn, const EventRef& ref, pb::EventRecord* out) {
  if (ref.batch == 0) {
    if (!state_.get_record(Cf::kEvents, keys::event(conn, ref.id), out)) {
      fail_stop_corrupt(Cf::kEvents, keys::event(conn, ref.id));
    }
    return;
  }
  const pb::EventLogRecord& r = record(ref.batch);
  // Events are logged in id order per connection; a batch holds few of one connection's.
  for (const pb::EventLogRecord::Event& e : r.events()) {
    if (e.conn() != conn || e.event_id() != ref.id) continue;
    out->set_path(e.path());
    out->set_token(e.token());
    out->set_rsp_end(e.rsp_end());
    return;
  }
  fail_stop_corrupt(Cf::kEvents, keys::event_log(ref.batch));
}

void EventLog::drop_oldest(WriteSet& ws, ConnectionTable& connections) {
  uint64_t through = 0;
  while (kept_.size() > kLogBatches / 2) {
    const auto [batch, unacked] = *kept_.begin();
    if (unacked > 0) {
      // A connection that does not read: its events here get records of their own.
      const pb::EventLogRecord r = record(batch);
      for (const pb::EventLogRecord::Event& e : r.events()) {
        Connection* c = connections.find(e.conn());
        if (c == nullptr) continue;
        auto ref = std::lower_bound(c->unacked.begin(), c->unacked.end(), e.event_id(),
                                    [](const EventRef& a, uint64_t id) { return a.id < id; });
        if (ref == c->unacked.end() || ref->id != e.event_id() || ref->batch != batch) continue;
        pb::EventRecord own;
        own.set_path(e.path());
        own.set_token(e.token());
        own.set_rsp_end(e.rsp_end());
        ws.put_record(Cf::kEvents, keys::event(e.conn(), e.event_id()), own);
        ref->batch = 0;
      }
    }
    ws.del(Cf::kEvents, keys::event_log(batch));
    if (cached_batch_ == batch) cached_batch_ = 0;
    kept_.erase(kept_.begin());
    through = batch;
  }
  // Nothing is to be replayed from the records gone: the connections they name are
  // written now, as of this batch.
  connections.for_each([&](Connection& c) {
    if (c.unsaved_batch != 0 && c.unsaved_batch <= through) connections.save(c);
  });
}

void EventLog::write(WriteSet& ws, ConnectionTable& connections) {
  if (kept_.size() >= kLogBatches) drop_oldest(ws, connections);
  if (pending_.events_size() == 0 && pending_.acks_size() == 0) return;
  ws.put_record(Cf::kEvents, keys::event_log(batch_), pending_);
  kept_[batch_] = pending_unacked_;
  pending_.Clear();
  pending_unacked_ = 0;
}

}  // namespace dxs::store
