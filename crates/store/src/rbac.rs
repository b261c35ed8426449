//! Roles, role permissions, users' roles and direct permissions.
