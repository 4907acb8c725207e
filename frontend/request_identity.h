// Request identity: how a restarted frontend tells the requests it finds unconsumed in a
// client's socket that the store has applied from new ones.
//
// A socket request is consumed from the socket only once the store has recorded it
// (docs/design.md, "Restarts"), so a frontend killed in between leaves it there for the
// next one. The store records, with each recorded reply, the request's digest and
// sequence number; the Welcome lists those not yet known delivered. resume_seq() lines
// the requests at the head of the socket up with them: the sequence number the first
// of them had, so that recorded ones are answered from their records and never applied
// twice, reads before them are answered as of their time, and the rest are new.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/wire.h"
#include "proto/session.pb.h"

namespace dxs::frontend {

// A digest of a message's wire bytes (header and payload), the same in every build:
// it outlives the frontend that computed it, in the store's records.
uint64_t request_digest(const wire::Header& header, std::string_view payload);

// The sequence number of the first of `head` (the digests of the whole messages
// unconsumed in the socket, in order), given the store's markers of the connection:
// `replied_seq`, `applied_seq` and `recorded` (its recorded requests after replied_seq,
// oldest first). It is the smallest s > replied_seq such that every recorded request
// with a sequence number from s on is at its place in `head` (request seq - s) with its
// digest, and none is missing; applied_seq + 1 (all are new) if none is.
//
// The smallest, because the one ambiguity (a client that pipelines a request
// byte-identical to the last recorded one, the frontend killed before recording the
// second) must not apply the first twice: the second is then answered with the first's
// recorded reply (docs/design.md).
uint64_t resume_seq(std::span<const uint64_t> head, uint64_t replied_seq, uint64_t applied_seq,
                    const google::protobuf::RepeatedPtrField<pb::RecordedRequest>& recorded);

// How many of the requests at the head of a resumed client's socket (`head`, their
// headers in order) the replies in `pending` answer, `pending` being what a killed
// frontend left in the client's outbox pipe (socket_outbox.h). The pipe is written only
// when empty, with whole messages, before the requests its replies answer are consumed:
// if those requests are still in the socket, `pending` is that one write, and its
// replies answer the first requests of the head, in order. Otherwise they were consumed
// and the pipe was being emptied into the socket: 0. A reply answers a request when it
// has the request's req_id and tx_id and its type, or ERROR. `pending` that is not a
// sequence of whole messages (a write half spliced on) answers nothing; a client that
// pipelines requests with the same ids could make a half-spliced write look whole only
// if the cut fell on a message boundary (docs/design.md).
size_t answered_at_head(std::string_view pending, std::span<const wire::Header> head);

}  // namespace dxs::frontend
