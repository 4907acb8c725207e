// Wire messages <-> typed Session protobufs.
//
// The codec knows the shape of each message type's payload, from the message table
// (common/message_table.h: where a path ends, where a value starts, which strings come
// in which fields), and nothing of its meaning: paths, numbers, permission strings and
// the number of arguments are the store's to check. A payload of the wrong shape becomes a
// Request carrying `malformed`, answered by the store in order with the other requests.
#pragma once

#include <string>

#include "common/wire.h"
#include "proto/session.pb.h"

namespace dxs::codec {

// Fills `out` (conn, seq and replied_seq are left to the caller) from a framed message.
void decode_request(const wire::Message& msg, pb::Request& out);

// Appends the wire bytes of a reply or watch event to `out`.
void append_reply(std::string& out, const pb::Reply& reply);
void append_event(std::string& out, const pb::WatchEvent& event);

}  // namespace dxs::codec
