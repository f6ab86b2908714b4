import { Friendship } from './friendship.entity';
import { Group, GroupMember } from './group.entity';
import { Image } from './image.entity';
import { Message } from './message.entity';
import { ServerSecret } from './server-secret.entity';
import { UserBlock } from './user-block.entity';
import { User } from './user.entity';

export const entities = [User, Image, Message, ServerSecret, Friendship, UserBlock, Group, GroupMember];
