// The payloads of DIRECTORY and DIRECTORY_PART (reference 1.6), from a node's children.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dxs::store {

// The names, each followed by a NUL: DIRECTORY's payload.
std::string join_children(const std::vector<std::string>& names);

// DIRECTORY_PART's payload: the node's generation, then as many whole names of `list`
// (join_children's form) from byte `offset` as fit in a reply, and an empty name once
// the end of the list is reached.
std::string directory_part(const std::string& list, uint64_t generation, size_t offset);

}  // namespace dxs::store
