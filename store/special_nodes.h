// The special nodes @introduceDomain and @releaseDomain (reference section 3.3): names
// watches can be set on, fired by the domain lifecycle, with permissions of their own
// (kept in cf meta) that decide who hears of them. Not nodes of the tree.
#pragma once

#include <string_view>

#include "common/perms.h"
#include "store/db.h"

namespace dxs::store {

inline constexpr std::string_view kIntroduceDomain = "@introduceDomain";
inline constexpr std::string_view kReleaseDomain = "@releaseDomain";

// Whether `name` is one of the special nodes.
bool is_special_node(std::string_view name);

// The permissions of a special node: as set, else dom0's with no access for others.
Perms special_perms(StateReader& state, std::string_view name);
void set_special_perms(WriteSet& ws, std::string_view name, const Perms& perms);

}  // namespace dxs::store
