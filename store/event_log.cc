#include "store/event_log.h"

#include <algorithm>
#include <vector>

namespace dxs::store {

namespace {

// In a record of the log (not in a chunk, nor in an EventRecord of its own).
bool in_log(const EventRef& ref) {
  return ref.batch != 0 && (ref.batch & EventLog::kInChunk) == 0;
}

}  // namespace

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
      // Events moved out of the log: a chunk, or an EventRecord of its own (written
      // before the chunks, or before the log), which has no `events`.
      Connection* c = connections.find(conn);
      if (c == nullptr) {
        ws.del(Cf::kEvents, key);
        continue;
      }
      pb::EventChunk chunk;
      if (!chunk.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        fail_stop_corrupt(Cf::kEvents, key);
      }
      if (chunk.events_size() == 0) {
        c->unacked.push_back(EventRef{id, 0});
        continue;
      }
      for (const pb::EventChunk::Event& e : chunk.events()) {
        c->unacked.push_back(EventRef{e.event_id(), kInChunk | id});
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
  batch_ = last + 1;
  cached_batch_ = 0;
  forget_chunk();
  pending_.Clear();
  pending_unacked_ = 0;
  connections.for_each([&](Connection& c) {
    std::sort(c.unacked.begin(), c.unacked.end(),
              [](const EventRef& a, const EventRef& b) { return a.id < b.id; });
    const uint64_t acked = c.record.acked_event_id();
    // (The log's records are counted below: none holds anything yet.)
    while (!c.unacked.empty() && c.unacked.front().id <= acked) pop_oldest(ws, c);
    for (const EventRef& ref : c.unacked) {
      if (in_log(ref)) ++kept_[ref.batch];
    }
    c.sent_event_id = acked;
  });
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

void EventLog::pop_oldest(WriteSet& ws, Connection& c) {
  const EventRef ref = c.unacked.front();
  c.unacked.pop_front();
  if (in_log(ref)) {
    release(ref);
  } else if (ref.batch == 0) {
    ws.del(Cf::kEvents, keys::event(c.record.id(), ref.id));
  } else if (c.unacked.empty() || c.unacked.front().batch != ref.batch) {
    // The chunk's last: a chunk took c's oldest events in the log when it was made, so
    // its events are consecutive among c's unacknowledged ones.
    const uint64_t first = ref.batch & ~kInChunk;
    ws.del(Cf::kEvents, keys::event(c.record.id(), first));
    if (cached_chunk_conn_ == c.record.id() && cached_chunk_first_ == first) forget_chunk();
  }
}

void EventLog::acknowledge(WriteSet& ws, Connection& c, uint64_t upto) {
  while (!c.unacked.empty() && c.unacked.front().id <= upto) pop_oldest(ws, c);
  pb::EventLogRecord::Ack* ack = pending_.add_acks();
  ack->set_conn(c.record.id());
  ack->set_event_id(upto);
  c.record.set_acked_event_id(upto);
  if (c.unsaved_batch == 0) c.unsaved_batch = batch_;
}

void EventLog::forget(const Connection& c) {
  // Its chunks and events of their own go with its prefix (ConnectionTable::remove).
  for (const EventRef& ref : c.unacked) {
    if (in_log(ref)) release(ref);
  }
  if (cached_chunk_conn_ == c.record.id()) forget_chunk();
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

const pb::EventChunk& EventLog::chunk(uint64_t conn, uint64_t first) {
  if (cached_chunk_conn_ != conn || cached_chunk_first_ != first) {
    cached_chunk_conn_ = 0;
    if (!state_.get_record(Cf::kEvents, keys::event(conn, first), &cached_chunk_) ||
        cached_chunk_.events_size() == 0) {
      fail_stop_corrupt(Cf::kEvents, keys::event(conn, first));
    }
    cached_chunk_conn_ = conn;
    cached_chunk_first_ = first;
  }
  return cached_chunk_;
}

void EventLog::forget_chunk() {
  cached_chunk_conn_ = 0;
  cached_chunk_first_ = 0;
  // Its memory too: a chunk can be a connection's whole backlog.
  pb::EventChunk().Swap(&cached_chunk_);
}

void EventLog::read(uint64_t conn, const EventRef& ref, pb::EventRecord* out) {
  if (ref.batch & kInChunk) {
    const uint64_t first = ref.batch & ~kInChunk;
    const pb::EventChunk& ch = chunk(conn, first);
    const auto e = std::lower_bound(
        ch.events().begin(), ch.events().end(), ref.id,
        [](const pb::EventChunk::Event& a, uint64_t id) { return a.event_id() < id; });
    if (e == ch.events().end() || e->event_id() != ref.id) {
      fail_stop_corrupt(Cf::kEvents, keys::event(conn, first));
    }
    out->set_path(e->path());
    out->set_token(e->token());
    out->set_rsp_end(e->rsp_end());
    return;
  }
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
  // A connection that does not read: its events still unacknowledged in the records that
  // go, oldest first (records are taken in order, and a connection's events in one are in
  // id order), make one chunk.
  std::map<uint64_t, pb::EventChunk> chunks;
  while (kept_.size() > kLogBatches / 2) {
    const auto [batch, unacked] = *kept_.begin();
    if (unacked > 0) {
      const pb::EventLogRecord& r = record(batch);
      for (const pb::EventLogRecord::Event& e : r.events()) {
        Connection* c = connections.find(e.conn());
        if (c == nullptr) continue;
        auto ref = std::lower_bound(c->unacked.begin(), c->unacked.end(), e.event_id(),
                                    [](const EventRef& a, uint64_t id) { return a.id < id; });
        if (ref == c->unacked.end() || ref->id != e.event_id() || ref->batch != batch) continue;
        pb::EventChunk& chunk = chunks[e.conn()];
        pb::EventChunk::Event* moved = chunk.add_events();
        moved->set_event_id(e.event_id());
        moved->set_path(e.path());
        moved->set_token(e.token());
        moved->set_rsp_end(e.rsp_end());
        ref->batch = kInChunk | chunk.events(0).event_id();
      }
    }
    ws.del(Cf::kEvents, keys::event_log(batch));
    if (cached_batch_ == batch) cached_batch_ = 0;
    kept_.erase(kept_.begin());
    through = batch;
  }
  for (const auto& [conn, chunk] : chunks) {
    ws.put_record(Cf::kEvents, keys::event(conn, chunk.events(0).event_id()), chunk);
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
