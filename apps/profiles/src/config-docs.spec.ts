import { describeConfigDocs } from '@cdp/testing';
import { profilesConfigSchema } from './config';

describeConfigDocs('profiles', profilesConfigSchema);
