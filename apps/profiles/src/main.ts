/** Profiles service entry point. */
import 'reflect-metadata';
import { requireConfig } from '@cdp/config';
import { runMain } from '@cdp/nest-platform';
import { profilesConfigSchema } from './config';
import { startProfiles } from './start';

void runMain(() => startProfiles(requireConfig(profilesConfigSchema)));
