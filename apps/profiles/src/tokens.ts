export const PROFILES_CONFIG = Symbol('profiles.config');
