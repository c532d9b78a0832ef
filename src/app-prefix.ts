// Where the admin API is mounted; the dashboard, which calls it in-process, needs it too.
export const ADMIN_PREFIX = '/admin/api/v1'
