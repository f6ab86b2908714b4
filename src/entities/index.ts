import { DownloadGrant } from './download-grant.entity';
import { Friendship } from './friendship.entity';
import { Group, GroupMember } from './group.entity';
import { Image } from './image.entity';
import { Message } from './message.entity';
import { PushJob } from './push-job.entity';
import { ServerSecret } from './server-secret.entity';
import { UserBlock } from './user-block.entity';
import { User } from './user.entity';
import { VerificationCode } from './verification-code.entity';

export const entities = [
  User,
  Image,
  Message,
  ServerSecret,
  PushJob,
  VerificationCode,
  Friendship,
  UserBlock,
  Group,
  GroupMember,
  DownloadGrant,
];
