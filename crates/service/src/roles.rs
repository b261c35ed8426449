//! Roles and permissions: roles CRUD, role permissions and users, users'
//! roles and effective permissions.
