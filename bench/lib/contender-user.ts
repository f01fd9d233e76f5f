/** A user as the comparison servers keep and answer it: the service's response shape, timestamps as ISO strings. */
export interface ContenderUser {
  id: string;
  name: string;
  email: string;
  status: 'active';
  created_at: string;
  updated_at: string;
}
