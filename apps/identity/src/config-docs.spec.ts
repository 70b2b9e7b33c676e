import { describeConfigDocs } from '@cdp/testing';
import { identityConfigSchema } from './config';

describeConfigDocs('identity', identityConfigSchema);
