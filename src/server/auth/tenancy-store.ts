import type { NamespaceKind, Role, Visibility } from "./permissions.js";

/**
 * Where users, organisations, memberships, repository visibility and credentials live. The
 * embedded registry keeps them in SQLite (`<root>/auth.db`); the interface is asynchronous so
 * that a PostgreSQL implementation can follow for several replicas. Implementations store
 * what they are given: secrets arrive already hashed, and validation is the caller's
 * (tenancy-admin.ts), so every backend enforces the same rules.
 */

export interface UserRecord {
  readonly name: string;
  readonly admin: boolean;
  /** An argon2id PHC string, or undefined for a user who may only use access tokens. */
  readonly passwordHash: string | undefined;
  readonly createdAt: number;
}

export interface NamespaceRecord {
  readonly name: string;
  readonly kind: NamespaceKind;
  /** The visibility a repository created in this namespace starts with. */
  readonly defaultVisibility: Visibility;
}

/** A scope a robot token is limited to: one repository and some of pull, push, delete. */
export interface CredentialScope {
  readonly repository: string;
  readonly actions: readonly string[];
}

/**
 * A long-lived secret other than the password: a robot/access token for CI (`robot`, limited
 * to its scopes) or a refresh token handed to `docker login` as its identity token (`refresh`,
 * the user's full rights).
 */
export interface CredentialRecord {
  readonly id: string;
  readonly user: string;
  readonly kind: "robot" | "refresh";
  readonly secretHash: string;
  /** undefined: not limited (refresh tokens). */
  readonly scopes: readonly CredentialScope[] | undefined;
  /** Milliseconds since the epoch, or undefined for no expiry. */
  readonly expiresAt: number | undefined;
  readonly createdAt: number;
}

export interface TenancyStore {
  user(name: string): Promise<UserRecord | undefined>;
  users(): Promise<UserRecord[]>;
  namespace(name: string): Promise<NamespaceRecord | undefined>;
  /** The user's role in the organisation, if a member. */
  role(org: string, user: string): Promise<Role | undefined>;
  members(org: string): Promise<{ user: string; role: Role }[]>;
  /** undefined: the repository has no visibility of its own yet (its namespace's default applies). */
  repositoryVisibility(name: string): Promise<Visibility | undefined>;
  credential(id: string): Promise<CredentialRecord | undefined>;
  credentials(user: string): Promise<CredentialRecord[]>;

  /** Creates the user and their namespace; false when the name is already a user's or an organisation's. */
  addUser(user: UserRecord, defaultVisibility: Visibility): Promise<boolean>;
  /** Removes the user with their namespace, memberships and credentials; false when there was none. */
  removeUser(name: string): Promise<boolean>;
  setPassword(name: string, passwordHash: string): Promise<boolean>;
  /** false when the name is taken. */
  createOrg(name: string, defaultVisibility: Visibility, createdAt: number): Promise<boolean>;
  setMember(org: string, user: string, role: Role): Promise<void>;
  removeMember(org: string, user: string): Promise<boolean>;
  setRepositoryVisibility(name: string, visibility: Visibility): Promise<void>;
  /** Records the visibility of a new repository unless it already has one; returns the one in force. */
  ensureRepository(name: string, visibility: Visibility): Promise<Visibility>;
  setNamespaceVisibility(name: string, visibility: Visibility): Promise<boolean>;
  addCredential(credential: CredentialRecord): Promise<void>;
  removeCredential(id: string): Promise<boolean>;
  /** Keeps a user's newest `keep` credentials of a kind (refresh tokens pile up with each login). */
  pruneCredentials(user: string, kind: CredentialRecord["kind"], keep: number): Promise<void>;
  close(): Promise<void>;
}
